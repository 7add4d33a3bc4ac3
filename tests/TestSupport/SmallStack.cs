namespace XlaGen.Tests;

/// <summary>Runs work on a thread with a small stack (512 KiB, a third of what .NET gives secondary threads on Linux),
/// so a recursion whose depth an input controls shows up as a failed test instead of ending a process with more room.</summary>
public static class SmallStack
{
    public static T Run<T>(Func<T> work, int stackBytes = 512 * 1024)
    {
        T result = default!;
        Exception? failure = null;
        var thread = new Thread(() =>
        {
            try
            {
                result = work();
            }
            catch (Exception e)
            {
                failure = e;
            }
        }, stackBytes);
        thread.Start();
        thread.Join();
        if (failure != null) throw failure;
        return result;
    }
}
