using XlaGen.Server.Grpc;

namespace XlaGen.Server.Sessions;

/// <summary>
/// The order of a session's sequenced executions (protocol version 4, <c>ExecuteRequest.sequence</c>): number n starts
/// only when every number below it has finished, failed or was cancelled, whatever order the calls arrive in (a
/// pipelining client sends n+1 before n's response is back, and the server's handlers may run in any order). A
/// waiting call holds no thread. A number below the last one finished, or one already arriving, is refused; a call
/// whose missing predecessor does not arrive within <see cref="MissingLimit"/> fails, so a client that lost a call
/// on its way cannot keep its later calls waiting for ever.
/// </summary>
internal sealed class ExecutionOrder(TimeSpan missingLimit)
{
    /// <summary>How far ahead of the last finished number a call may be.</summary>
    public const int MaxAhead = 4096;

    readonly object sync = new();
    readonly HashSet<ulong> arrived = new();
    readonly HashSet<ulong> finishedAhead = new();
    ulong finishedThrough;
    TaskCompletionSource advanced = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public TimeSpan MissingLimit { get; } = missingLimit;

    /// <summary>Notes that call <paramref name="n"/> arrived; every arrived number must later be <see cref="Finish"/>ed.</summary>
    public void Arrive(ulong n, string what)
    {
        lock (sync)
        {
            if (n <= finishedThrough || finishedAhead.Contains(n) || !arrived.Add(n))
                throw Errors.InvalidArgument($"{what}: sequence number {n} was used before in this session (the next ones are above {finishedThrough}, each used once)");
            if (n - finishedThrough > MaxAhead)
            {
                arrived.Remove(n);
                throw Errors.InvalidArgument($"{what}: sequence number {n} is more than {MaxAhead} ahead of the last finished one ({finishedThrough})");
            }
            Signal();
        }
    }

    /// <summary>Waits until every number below <paramref name="n"/> has finished.</summary>
    public async Task WaitTurnAsync(ulong n, string what, CancellationToken cancellationToken)
    {
        long missingSince = Environment.TickCount64;
        while (true)
        {
            Task changed;
            lock (sync)
            {
                if (finishedThrough >= n - 1) return;
                ulong first = FirstMissing();
                ulong missing = first < n ? first : 0;
                long now = Environment.TickCount64;
                if (missing == 0) missingSince = now;
                else if (now - missingSince >= MissingLimit.TotalMilliseconds)
                {
                    throw Errors.FailedPrecondition(
                        $"{what}: sequence number {n} waited {MissingLimit.TotalSeconds:0.#} s for number {missing} of this session, which never arrived (a call lost on its way, or a client that skips numbers)");
                }
                changed = advanced.Task;
            }
            try
            {
                await changed.WaitAsync(TimeSpan.FromMilliseconds(250), cancellationToken).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                // look again: the missing predecessor's time limit
            }
        }
    }

    /// <summary>Call <paramref name="n"/> is over (finished, failed, or cancelled): its successors may go.</summary>
    public void Finish(ulong n)
    {
        lock (sync)
        {
            arrived.Remove(n);
            if (n <= finishedThrough) return;
            finishedAhead.Add(n);
            while (finishedAhead.Remove(finishedThrough + 1)) finishedThrough++;
            Signal();
        }
    }

    /// <summary>The lowest number above the last finished one that has neither arrived nor finished, worked out once
    /// per change (every waiter asks on every change: scanning per waiter let a client with thousands of calls waiting
    /// make each arrival cost millions of set lookups). Call under the lock.</summary>
    ulong FirstMissing()
    {
        if (missingVersion != version)
        {
            ulong k = finishedThrough + 1;
            while (arrived.Contains(k) || finishedAhead.Contains(k)) k++;
            firstMissing = k;
            missingVersion = version;
        }
        return firstMissing;
    }

    long version;
    long missingVersion = -1;
    ulong firstMissing;

    void Signal()
    {
        version++;
        var done = advanced;
        advanced = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        done.SetResult();
    }
}
