using XlaGen.Hlo;

namespace XlaGen.Tests.Conformance;

/// <summary>Runs one module on a device the way every check here does: compile, upload the inputs, execute, download
/// every result, and release the device buffers and the executable.</summary>
public static class DeviceRun
{
    public static Tensor[] Run(IDevice device, HloModule module, IReadOnlyList<Tensor> inputs)
    {
        using var exe = device.CompileHlo(module);
        var args = new DeviceBuffer[inputs.Count];
        DeviceBuffer[] results = Array.Empty<DeviceBuffer>();
        try
        {
            for (int i = 0; i < inputs.Count; i++) args[i] = device.Upload(inputs[i]);
            results = exe.Execute(args);
            var host = new Tensor[results.Length];
            for (int i = 0; i < results.Length; i++) host[i] = device.Download(results[i]);
            return host;
        }
        finally
        {
            foreach (var b in args) b?.Dispose();
            foreach (var b in results) b.Dispose();
        }
    }
}
