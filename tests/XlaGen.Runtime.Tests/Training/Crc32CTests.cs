using System.Text;
using XlaGen.Training;

namespace XlaGen.Tests.Training;

/// <summary>The CRC-32C of TensorBoard's TFRecord framing against published vectors: the CRC catalogue's check value
/// and the iSCSI vectors of RFC 3720 appendix B.4 (there written as the transmitted bytes, lowest first).</summary>
public class Crc32CTests
{
    [Fact]
    public void TheCheckValueOf123456789()
    {
        Assert.Equal(0xE3069283u, Crc32C.Compute(Encoding.ASCII.GetBytes("123456789")));
    }

    [Fact]
    public void TheIscsiVectorsOfRfc3720()
    {
        Assert.Equal(0x8A9136AAu, Crc32C.Compute(new byte[32]));                                        // aa 36 91 8a
        Assert.Equal(0x62A8AB43u, Crc32C.Compute(Enumerable.Repeat((byte)0xFF, 32).ToArray()));         // 43 ab a8 62
        Assert.Equal(0x46DD794Eu, Crc32C.Compute(Enumerable.Range(0, 32).Select(i => (byte)i).ToArray()));      // 4e 79 dd 46
        Assert.Equal(0x113FDB5Cu, Crc32C.Compute(Enumerable.Range(0, 32).Select(i => (byte)(31 - i)).ToArray())); // 5c db 3f 11
        byte[] readCommand =
        {
            0x01, 0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
            0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x18,
            0x28, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        };
        Assert.Equal(0xD9963A56u, Crc32C.Compute(readCommand));                                        // 56 3a 96 d9
    }

    [Fact]
    public void TheEmptyInputAndTheMask()
    {
        Assert.Equal(0u, Crc32C.Compute(ReadOnlySpan<byte>.Empty));
        // TFRecord's mask: rotate right by 15, add 0xa282ead8 (mod 2^32).
        uint crc = 0xE3069283u;
        uint masked = unchecked(((crc >> 15) | (crc << 17)) + 0xa282ead8u);
        Assert.Equal(masked, Crc32C.Masked(Encoding.ASCII.GetBytes("123456789")));
        Assert.Equal(unchecked(0xa282ead8u), Crc32C.Masked(ReadOnlySpan<byte>.Empty));
    }
}
