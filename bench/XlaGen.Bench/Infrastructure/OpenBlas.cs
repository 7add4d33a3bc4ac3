using System.Runtime.InteropServices;

namespace XlaGen.Bench.Infrastructure;

/// <summary>
/// Optional OpenBLAS reference, bound at run time from libopenblas.so.0 (bench only, never a product dependency).
/// </summary>
internal sealed unsafe class OpenBlas
{
    public const string InstallHint = "OpenBLAS not found (libopenblas.so.0). Install it with `apt-get install libopenblas0-pthread` to compare against it; reporting our numbers only.";

    private const int RowMajor = 101, NoTrans = 111, Trans = 112;

    private readonly delegate* unmanaged<int, int, int, int, int, int, float, float*, int, float*, int, float, float*, int, void> _sgemm;
    private readonly delegate* unmanaged<int, int, int, int, int, int, double, double*, int, double*, int, double, double*, int, void> _dgemm;
    private readonly delegate* unmanaged<int, void> _setThreads;
    private readonly delegate* unmanaged<int> _getThreads;
    private readonly delegate* unmanaged<byte*> _getConfig;

    private OpenBlas(nint handle)
    {
        _sgemm = (delegate* unmanaged<int, int, int, int, int, int, float, float*, int, float*, int, float, float*, int, void>)
            NativeLibrary.GetExport(handle, "cblas_sgemm");
        _dgemm = (delegate* unmanaged<int, int, int, int, int, int, double, double*, int, double*, int, double, double*, int, void>)
            NativeLibrary.GetExport(handle, "cblas_dgemm");
        _setThreads = NativeLibrary.TryGetExport(handle, "openblas_set_num_threads", out var st) ? (delegate* unmanaged<int, void>)st : null;
        _getThreads = NativeLibrary.TryGetExport(handle, "openblas_get_num_threads", out var gt) ? (delegate* unmanaged<int>)gt : null;
        _getConfig = NativeLibrary.TryGetExport(handle, "openblas_get_config", out var gc) ? (delegate* unmanaged<byte*>)gc : null;
    }

    public static OpenBlas? TryLoad()
    {
        foreach (var name in new[] { "libopenblas.so.0", "libopenblas.so", "/usr/lib/x86_64-linux-gnu/libopenblas.so.0" })
            if (NativeLibrary.TryLoad(name, out var h) && NativeLibrary.TryGetExport(h, "cblas_sgemm", out _))
                return new OpenBlas(h);
        return null;
    }

    public int Threads
    {
        get => _getThreads != null ? _getThreads() : -1;
        set
        {
            if (_setThreads != null)
                _setThreads(value);
        }
    }

    public string Config => _getConfig != null ? Marshal.PtrToStringUTF8((nint)_getConfig()) ?? "" : "";

    public void Sgemm(bool transA, bool transB, int m, int n, int k, float alpha,
        float* a, int lda, float* b, int ldb, float beta, float* c, int ldc)
        => _sgemm(RowMajor, transA ? Trans : NoTrans, transB ? Trans : NoTrans, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);

    public void Dgemm(bool transA, bool transB, int m, int n, int k, double alpha,
        double* a, int lda, double* b, int ldb, double beta, double* c, int ldc)
        => _dgemm(RowMajor, transA ? Trans : NoTrans, transB ? Trans : NoTrans, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}
