using XlaGen.Backends.Pjrt;

namespace XlaGen.Tests.Pjrt;

/// <summary>
/// The CompileOptionsProto bytes, decoded by a wire decoder written here (not the generated class) against OpenXLA's
/// field numbers (openxla/xla @ c4cc79a0 xla/pjrt/proto/compile_options.proto): CompileOptionsProto
/// executable_build_options = 3, compile_portable_executable = 4; ExecutableBuildOptionsProto device_ordinal = 1,
/// num_replicas = 4, num_partitions = 5.
/// </summary>
public class PjrtCompileOptionsTests
{
    /// <summary>(field number, wire type, varint value or bytes) in order.</summary>
    internal static List<(int Field, int Wire, ulong Value, byte[] Bytes)> Decode(ReadOnlySpan<byte> data)
    {
        var fields = new List<(int, int, ulong, byte[])>();
        int i = 0;
        ulong Varint(ReadOnlySpan<byte> d)
        {
            ulong v = 0;
            for (int shift = 0; ; shift += 7)
            {
                Assert.True(i < d.Length, "truncated varint");
                Assert.True(shift < 64, "varint longer than 10 bytes");
                byte b = d[i++];
                v |= (ulong)(b & 0x7f) << shift;
                if ((b & 0x80) == 0) return v;
            }
        }
        while (i < data.Length)
        {
            ulong key = Varint(data);
            int field = (int)(key >> 3), wire = (int)(key & 7);
            switch (wire)
            {
                case 0:
                    fields.Add((field, 0, Varint(data), Array.Empty<byte>()));
                    break;
                case 2:
                    int length = checked((int)Varint(data));
                    fields.Add((field, 2, (ulong)length, data.Slice(i, length).ToArray()));
                    i += length;
                    break;
                default:
                    Assert.Fail($"unexpected wire type {wire} for field {field}");
                    break;
            }
        }
        return fields;
    }

    [Fact]
    public void FixedExecutableForTheDefaultDevice()
    {
        var bytes = PjrtCompileOptions.Build(portable: false);
        var top = Decode(bytes);
        var build = Assert.Single(top);
        Assert.Equal((3, 2), (build.Field, build.Wire)); // executable_build_options
        var options = Decode(build.Bytes);
        Assert.Equal(new[] { 1, 4, 5 }, options.Select(f => f.Field));
        Assert.All(options, f => Assert.Equal(0, f.Wire));
        Assert.Equal(-1L, (long)options[0].Value); // device_ordinal = -1: unset, the client's default assignment
        Assert.Equal(1UL, options[1].Value);       // num_replicas
        Assert.Equal(1UL, options[2].Value);       // num_partitions
        // the encoding the reference sheet works out by hand (pjrt-c-api.md §2.5)
        Assert.Equal(Convert.FromHexString("1a0f08ffffffffffffffffff01200128 01".Replace(" ", "")), bytes);
    }

    [Fact]
    public void PortableExecutableForOtherDevices()
    {
        var top = Decode(PjrtCompileOptions.Build(portable: true));
        Assert.Equal(new[] { 3, 4 }, top.Select(f => f.Field));
        Assert.Equal(1UL, top[1].Value); // compile_portable_executable = true
        Assert.Equal(new[] { 1, 4, 5 }, Decode(top[0].Bytes).Select(f => f.Field));
    }
}
