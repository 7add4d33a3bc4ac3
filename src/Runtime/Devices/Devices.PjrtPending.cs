namespace XlaGen;

// Temporary until the PJRT backend (branch helper/pjrt) merges in this session; removed by that merge.
public static partial class Devices
{
    public static IDevice Pjrt(string? path = null) => throw new PlatformNotSupportedException("the PJRT backend is not built yet");
}
