using System.Collections.Concurrent;
using XlaGen.Hlo;

namespace XlaGen;

/// <summary>
/// Eager execution of the tensor surface on host tensors: each call builds a one-op HLO program with the same
/// lowering the generator uses, compiles it once per (op, input shapes) on the CPU executor, and runs it.
/// This is for debugging and tests; models run their build-time programs through the generated runner.
/// </summary>
internal static class Eager
{
    static readonly ConcurrentDictionary<string, IExecutable> Cache = new();

    /// <summary>The device eager calls run on (the embedded CPU executor).</summary>
    public static IDevice Device => Devices.Cpu();

    internal static Tensor<TOut> Run<TOut>(string op, Tensor x, Func<HloBuilder, HloInstruction[], HloInstruction> lower) where TOut : unmanaged =>
        Run<TOut>(op, new[] { x }, lower);

    internal static Tensor<TOut> Run<TOut>(string op, Tensor x, Tensor y, Func<HloBuilder, HloInstruction[], HloInstruction> lower) where TOut : unmanaged =>
        Run<TOut>(op, new[] { x, y }, lower);

    internal static Tensor<TOut> Run<TOut>(string op, Tensor[] inputs, Func<HloBuilder, HloInstruction[], HloInstruction> lower) where TOut : unmanaged
    {
        var key = op + ":" + string.Join(";", inputs.Select(t => t.ShapeText));
        var device = Device;
        var exe = Cache.GetOrAdd(key, _ =>
        {
            var b = new HloBuilder("eager_" + op.Replace('(', '_').Replace(')', '_').Replace(',', '_'));
            var ps = inputs.Select((t, i) => b.Parameter(t.HloShape, "p" + i)).ToArray();
            return device.CompileHlo(b.BuildModule(lower(b, ps)));
        });
        var args = inputs.Select(device.Upload).ToArray();
        try
        {
            var outs = exe.Execute(args);
            var result = device.Download(outs[0]);
            foreach (var o in outs) o.Dispose();
            return (Tensor<TOut>)result;
        }
        finally
        {
            foreach (var a in args) a.Dispose();
        }
    }
}
