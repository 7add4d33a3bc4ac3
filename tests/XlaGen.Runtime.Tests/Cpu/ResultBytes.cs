namespace XlaGen.Tests.Cpu;

/// <summary>Runs an executable and returns each result's raw bytes, for tests that compare two kernels bitwise.</summary>
internal static class ResultBytes
{
    public static byte[][] Of(IDevice device, IExecutable exe, IEnumerable<Tensor> args)
    {
        var outs = exe.Execute(args.Select(device.Upload).ToArray());
        try
        {
            return outs.Select(o =>
            {
                var t = device.Download(o);
                var bytes = new byte[TensorBytes.ByteCount(t)];
                TensorBytes.Read(t, 0, bytes);
                return bytes;
            }).ToArray();
        }
        finally
        {
            foreach (var o in outs) o.Dispose();
        }
    }
}
