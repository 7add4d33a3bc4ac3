namespace XlaGen
{
    /// <summary>How a convolution or pooling window treats the border (TensorFlow's and Keras' padding modes).</summary>
    public enum Padding
    {
        /// <summary>No padding: only window positions that fit inside the input; the output shrinks by (window − 1) · dilation.</summary>
        Valid = 0,

        /// <summary>Zero padding (for pools: padding that no window counts) so the output size is ⌈input / stride⌉; when the
        /// total padding is odd the extra row/column goes at the bottom/right, as in TensorFlow.</summary>
        Same = 1,
    }
}
