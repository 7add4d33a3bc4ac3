using CsCheck;
using Google.Protobuf;
using Grpc.Core;
using XlaGen.Device.V1;
using XlaGen.Hlo;
using XlaGen.Tests;

namespace XlaGen.Server.Tests;

/// <summary>
/// Property tests (CsCheck) over the HloModuleProto reader and verifier, the gate every module passes on the server:
/// random mutations of valid module bytes and random small modules only ever raise the documented exceptions, and the
/// same bytes sent to a real server only ever come back as a clean INVALID_ARGUMENT (or compile, when they still
/// make a valid program).
/// </summary>
public class FuzzTests(BadInputServer fixture) : IClassFixture<BadInputServer>
{
    /// <summary>Valid modules whose bytes are mutated: control flow, reductions, dots, constants, tuples.</summary>
    static readonly byte[][] SeedModules =
    {
        HloProto.Write(TestModules.Affine(2, 3, 4)),
        HloProto.Write(TestModules.SgdStep(4, 3, 2, 0.1f)),
        HloProto.Write(TestModules.SlowLoop(3)),
        HloProto.Write(TestModules.AddVectors(5)),
        HloProto.Write(TestModules.Copy(ElementType.S32, 2, 2)),
        HloProto.Write(RandomModule(new[] { 5, 17, 3, 250, 41, 8, 99, 12, 7, 64 })),
    };

    static bool IsDocumented(Exception e) => e is HloProtoException or HloVerificationException or HloParseException;

    /// <summary>One mutation of one seed module: overwrite, flip, truncate, delete, insert, duplicate, or a run of 0xff
    /// (varints that claim huge lengths and numbers).</summary>
    static readonly Gen<byte[]> MutatedBytes =
        Gen.Select(Gen.Int[0, SeedModules.Length - 1], Gen.Int[0, 6], Gen.Int[0, 100_000], Gen.Int[1, 16], Gen.Byte.Array[1, 16],
            (seed, kind, position, length, bytes) => ByteMutation.Mutate(SeedModules[seed], kind, position, length, bytes, 0xff))
        .SelectMany(first => Gen.Select(Gen.Int[0, 6], Gen.Int[0, 100_000], Gen.Int[1, 16], Gen.Byte.Array[1, 16], Gen.Bool,
            (kind, position, length, bytes, twice) => twice ? ByteMutation.Mutate(first, kind, position, length, bytes, 0xff) : first));

    /// <summary>
    /// A small valid module interpreted from a list of choices (so CsCheck shrinks it by shortening the list): one to
    /// three parameters of one shape, then elementwise, reduce, transpose, reshape and broadcast steps, and a tuple of
    /// the last values as the root.
    /// </summary>
    static HloModule RandomModule(int[] choices)
    {
        int next = 0;
        int Pick(int n) => n <= 1 ? 0 : Math.Abs(choices.Length == 0 ? 0 : choices[next++ % choices.Length]) % n;
        var type = Pick(2) == 0 ? ElementType.F32 : ElementType.S32;
        int rank = Pick(4);
        var dims = Enumerable.Range(0, rank).Select(_ => (Dim)(1 + Pick(4))).ToArray();
        var b = new HloBuilder("fuzz");
        var values = new List<HloInstruction>();
        int parameters = 1 + Pick(3);
        for (int i = 0; i < parameters; i++) values.Add(b.Parameter(Shape.Array(type, dims), "p" + i));
        string[] unary = type == ElementType.F32 ? new[] { "negate", "abs", "exponential", "tanh", "sqrt" } : new[] { "negate", "abs" };
        string[] binary = { "add", "subtract", "multiply", "maximum", "minimum" };
        int steps = Math.Min(choices.Length, 12);
        for (int s = 0; s < steps; s++)
        {
            var x = values[Pick(values.Count)];
            var sameShape = values.Where(v => v.Shape.Equals(x.Shape)).ToList();
            switch (Pick(6))
            {
                case 0: values.Add(b.Unary(unary[Pick(unary.Length)], x)); break;
                case 1: values.Add(b.Binary(binary[Pick(binary.Length)], x, sameShape[Pick(sameShape.Count)])); break;
                case 2 when x.Shape.Rank > 0: values.Add(b.ReduceSum(x, Pick(x.Shape.Rank))); break;
                case 3 when x.Shape.Rank > 1: values.Add(b.Transpose(x, Enumerable.Range(0, x.Shape.Rank).Reverse().Select(d => (long)d).ToArray())); break;
                case 4: values.Add(b.Reshape(x, x.Shape.ElementCountDim)); break;
                case 5 when x.Shape.Rank == 0: values.Add(b.BroadcastScalar(x, new Dim[] { 1 + Pick(3), 1 + Pick(3) })); break;
                default: values.Add(b.Unary("negate", x)); break;
            }
        }
        return b.BuildModule(b.Tuple(values.Skip(Math.Max(parameters, values.Count - 2)).DefaultIfEmpty(values[^1]).ToArray()));
    }

    static readonly Gen<int[]> Choices = Gen.Int[0, 1000].Array[0, 16];

    [Fact]
    public void MutatedModuleBytesOnlyRaiseTheDocumentedExceptions()
    {
        int read = 0, rejected = 0;
        MutatedBytes.Sample(bytes =>
        {
            try
            {
                HloProto.Read(bytes);
                Interlocked.Increment(ref read);
            }
            catch (Exception e) when (IsDocumented(e))
            {
                Assert.False(string.IsNullOrWhiteSpace(e.Message));
                Interlocked.Increment(ref rejected);
            }
        }, iter: 4000, threads: 1);
        Assert.True(rejected > 1000, $"{read} read, {rejected} rejected: the mutations should mostly break modules");
        Assert.True(read > 0, $"{read} read, {rejected} rejected: some mutations (names, metadata) keep a module valid");
    }

    [Fact]
    public void RandomModulesRoundTripThroughTheirBytes()
    {
        Choices.Sample(choices =>
        {
            var module = RandomModule(choices);
            var bytes = HloProto.Write(module);
            var back = HloProto.Read(bytes);
            Assert.Equal(HloPrinter.Print(module), HloPrinter.Print(back));
            Assert.Equal(bytes, HloProto.Write(back));
        }, iter: 400, threads: 1);
    }

    [Fact]
    public void MutatedRandomModulesOnlyRaiseTheDocumentedExceptions()
    {
        Gen.Select(Choices, Gen.Int[0, 6], Gen.Int[0, 100_000], Gen.Int[1, 16], Gen.Byte.Array[1, 16]).Sample((choices, kind, position, length, bytes) =>
        {
            var mutated = ByteMutation.Mutate(HloProto.Write(RandomModule(choices)), kind, position, length, bytes, 0xff);
            try
            {
                HloProto.Read(mutated);
            }
            catch (Exception e) when (IsDocumented(e))
            {
            }
        }, iter: 1500, threads: 1);
    }

    [Fact]
    public async Task MutatedBytesSentToTheServerAreAlwaysACleanStatus()
    {
        using var raw = new RawClient(fixture.Server.Address);
        var session = await raw.OpenSessionAsync("fuzzer");
        int compiled = 0, invalid = 0;
        await MutatedBytes.SampleAsync(async bytes =>
        {
            bool locallyValid;
            try
            {
                HloProto.Read(bytes);
                locallyValid = true;
            }
            catch (Exception e) when (IsDocumented(e))
            {
                locallyValid = false;
            }
            try
            {
                var response = await raw.Client.CompileAsync(new CompileRequest { SessionId = session, HloModuleProto = ByteString.CopyFrom(bytes) }, raw.Options());
                Assert.True(locallyValid, "the server compiled bytes the reader rejects");
                await raw.Client.ReleaseAsync(new ReleaseRequest { SessionId = session, Handles = { response.ExecutableHandle } }, raw.Options());
                Interlocked.Increment(ref compiled);
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.InvalidArgument || (locallyValid && e.StatusCode == StatusCode.ResourceExhausted))
            {
                Assert.False(string.IsNullOrWhiteSpace(e.Status.Detail));
                Interlocked.Increment(ref invalid);
            }
        }, iter: 400, threads: 1);
        Assert.True(invalid > 100, $"{compiled} compiled, {invalid} refused");
        var stats = await raw.StatsAsync();
        Assert.Equal(0, (await raw.Client.KeepAliveAsync(new KeepAliveRequest { SessionId = session }, raw.Options())).BytesHeld);
        Assert.True(stats.ExecutableHandles <= 1, $"{stats.ExecutableHandles} executables still held");   // the healthy client's
        fixture.AssertHealthy();
    }
}
