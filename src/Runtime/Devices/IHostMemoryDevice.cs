using XlaGen.Hlo;

namespace XlaGen;

/// <summary>
/// A device whose buffers are host arrays (the embedded CPU executor). A transfer server uses it to move tensor bytes
/// without staging copies: an upload is received straight into a tensor that then becomes the buffer as it is, and a
/// download is sent from the buffer's bytes in place.
/// </summary>
public interface IHostMemoryDevice : IDevice
{
    /// <summary>A host tensor to fill and then pass to <see cref="AdoptHostTensor"/>: its contents are undefined (it may
    /// reuse the array of a disposed buffer), so every byte must be written before it is used.</summary>
    Tensor AllocateUninitialized(ElementType elementType, long[] dims);

    /// <summary>A buffer that takes over <paramref name="tensor"/>'s elements array without copying it. The caller must
    /// neither use nor change the tensor afterwards.</summary>
    DeviceBuffer AdoptHostTensor(Tensor tensor);

    /// <summary>
    /// <paramref name="length"/> bytes of the buffer from <paramref name="byteOffset"/>, in place (no copy), in the
    /// transfer layout of <see cref="TensorBytes"/>. Valid while the buffer is alive and not donated; never written through.
    /// </summary>
    ReadOnlyMemory<byte> PeekBytes(DeviceBuffer buffer, long byteOffset, int length);
}
