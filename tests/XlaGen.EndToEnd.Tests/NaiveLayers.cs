namespace XlaGen.Tests;

/// <summary>A row-major array of doubles: the naive references' tensors.</summary>
sealed class Nd
{
    public Nd(params long[] shape)
    {
        Shape = shape;
        Data = new double[shape.Aggregate(1L, (a, b) => a * b)];
    }

    public long[] Shape { get; }

    public double[] Data { get; }

    public static Nd From(Tensor t)
    {
        var nd = new Nd(t.Shape.ToArray());
        var v = Naive.Vector(t);
        Array.Copy(v, nd.Data, v.Length);
        return nd;
    }

    long Offset(long[] index)
    {
        long offset = 0;
        for (int i = 0; i < index.Length; i++) offset = offset * Shape[i] + index[i];
        return offset;
    }

    public double this[params long[] index]
    {
        get => Data[Offset(index)];
        set => Data[Offset(index)] = value;
    }

    public Nd Map(Func<double, double> f)
    {
        var y = new Nd(Shape);
        for (int i = 0; i < Data.Length; i++) y.Data[i] = f(Data[i]);
        return y;
    }

    /// <summary>This plus <paramref name="row"/> broadcast over the leading dims (its shape is a suffix of this one's).</summary>
    public Nd Plus(Nd row)
    {
        var y = new Nd(Shape);
        for (int i = 0; i < Data.Length; i++) y.Data[i] = Data[i] + row.Data[i % row.Data.Length];
        return y;
    }

    /// <summary>Σ this · r (same shapes).</summary>
    public double Dot(Nd r)
    {
        Assert.Equal(Shape, r.Shape);
        double s = 0;
        for (int i = 0; i < Data.Length; i++) s += Data[i] * r.Data[i];
        return s;
    }
}

/// <summary>The library's layers as explicit loops in f64, written from Keras' and TensorFlow's definitions, independent
/// of the lowerings they check.</summary>
static class NaiveLayers
{
    public static double Sigmoid(double x) => 1 / (1 + Math.Exp(-x));

    public static double Gelu(double x) => 0.5 * x * (1 + Math.Tanh(Math.Sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x)));

    public static double Elu(double x) => x > 0 ? x : Math.Exp(x) - 1;

    public static double Softplus(double x) => Math.Log(1 + Math.Exp(x));

    public static Nd Dense(Nd x, Nd kernel, Nd? bias, Func<double, double> activation)
    {
        long n = x.Shape[0], inputs = kernel.Shape[0], units = kernel.Shape[1];
        var y = new Nd(n, units);
        for (long i = 0; i < n; i++)
        for (long o = 0; o < units; o++)
        {
            double s = bias == null ? 0 : bias[o];
            for (long k = 0; k < inputs; k++) s += x[i, k] * kernel[k, o];
            y[i, o] = activation(s);
        }
        return y;
    }

    /// <summary>Output size and padding before the first element (TensorFlow's SAME: half the total, the odd one after).</summary>
    public static (long Out, long PadBefore) Window(long n, long k, long stride, long dilation, bool same)
    {
        long span = (k - 1) * dilation + 1;
        if (!same) return ((n - span) / stride + 1, 0);
        long outSize = (n + stride - 1) / stride;
        return (outSize, Math.Max((outSize - 1) * stride + span - n, 0) / 2);
    }

    /// <summary>Conv2D, NHWC input, HWIO kernel [k, k, C / groups, F]; output channel f belongs to group f / (F / groups).</summary>
    public static Nd Conv2D(Nd x, Nd kernel, Nd? bias, int stride, bool same, int dilation, int groups)
    {
        long n = x.Shape[0], h = x.Shape[1], w = x.Shape[2], c = x.Shape[3], k = kernel.Shape[0], f = kernel.Shape[3], cg = c / groups;
        var (oh, ph) = Window(h, k, stride, dilation, same);
        var (ow, pw) = Window(w, k, stride, dilation, same);
        var y = new Nd(n, oh, ow, f);
        for (long b = 0; b < n; b++)
        for (long i = 0; i < oh; i++)
        for (long j = 0; j < ow; j++)
        for (long o = 0; o < f; o++)
        {
            long g = o / (f / groups);
            double s = bias == null ? 0 : bias[o];
            for (long a = 0; a < k; a++)
            for (long e = 0; e < k; e++)
            {
                long r = i * stride + a * dilation - ph, q = j * stride + e * dilation - pw;
                if (r < 0 || q < 0 || r >= h || q >= w) continue;
                for (long ci = 0; ci < cg; ci++) s += x[b, r, q, g * cg + ci] * kernel[a, e, ci, o];
            }
            y[b, i, j, o] = s;
        }
        return y;
    }

    /// <summary>TensorFlow's depthwise_conv2d: kernel [k, k, C, M]; output channel c·M + m is channel c through filter m.</summary>
    public static Nd DepthwiseConv2D(Nd x, Nd kernel, Nd? bias, int stride, bool same, int dilation)
    {
        long n = x.Shape[0], h = x.Shape[1], w = x.Shape[2], c = x.Shape[3], k = kernel.Shape[0], m = kernel.Shape[3];
        var (oh, ph) = Window(h, k, stride, dilation, same);
        var (ow, pw) = Window(w, k, stride, dilation, same);
        var y = new Nd(n, oh, ow, c * m);
        for (long b = 0; b < n; b++)
        for (long i = 0; i < oh; i++)
        for (long j = 0; j < ow; j++)
        for (long ci = 0; ci < c; ci++)
        for (long mi = 0; mi < m; mi++)
        {
            double s = bias == null ? 0 : bias[ci * m + mi];
            for (long a = 0; a < k; a++)
            for (long e = 0; e < k; e++)
            {
                long r = i * stride + a * dilation - ph, q = j * stride + e * dilation - pw;
                if (r < 0 || q < 0 || r >= h || q >= w) continue;
                s += x[b, r, q, ci] * kernel[a, e, ci, mi];
            }
            y[b, i, j, ci * m + mi] = s;
        }
        return y;
    }

    /// <summary>Max or average pooling (average over the window's real elements, TensorFlow's SAME).</summary>
    public static Nd Pool(Nd x, int size, int stride, bool same, bool max)
    {
        long n = x.Shape[0], h = x.Shape[1], w = x.Shape[2], c = x.Shape[3];
        var (oh, ph) = Window(h, size, stride, 1, same);
        var (ow, pw) = Window(w, size, stride, 1, same);
        var y = new Nd(n, oh, ow, c);
        for (long b = 0; b < n; b++)
        for (long i = 0; i < oh; i++)
        for (long j = 0; j < ow; j++)
        for (long ci = 0; ci < c; ci++)
        {
            double acc = max ? double.NegativeInfinity : 0;
            int count = 0;
            for (long a = 0; a < size; a++)
            for (long e = 0; e < size; e++)
            {
                long r = i * stride + a - ph, q = j * stride + e - pw;
                if (r < 0 || q < 0 || r >= h || q >= w) continue;
                acc = max ? Math.Max(acc, x[b, r, q, ci]) : acc + x[b, r, q, ci];
                count++;
            }
            y[b, i, j, ci] = max ? acc : acc / count;
        }
        return y;
    }

    public static Nd GlobalAvgPool(Nd x)
    {
        long n = x.Shape[0], h = x.Shape[1], w = x.Shape[2], c = x.Shape[3];
        var y = new Nd(n, c);
        for (long b = 0; b < n; b++)
        for (long ci = 0; ci < c; ci++)
        {
            double s = 0;
            for (long i = 0; i < h; i++)
            for (long j = 0; j < w; j++) s += x[b, i, j, ci];
            y[b, ci] = s / (h * w);
        }
        return y;
    }

    /// <summary>Softmax over the last axis.</summary>
    public static Nd Softmax(Nd x)
    {
        long last = x.Shape[^1];
        var y = new Nd(x.Shape);
        for (long r = 0; r < x.Data.Length / last; r++)
        {
            double max = double.NegativeInfinity, sum = 0;
            for (long j = 0; j < last; j++) max = Math.Max(max, x.Data[r * last + j]);
            for (long j = 0; j < last; j++) sum += Math.Exp(x.Data[r * last + j] - max);
            for (long j = 0; j < last; j++) y.Data[r * last + j] = Math.Exp(x.Data[r * last + j] - max) / sum;
        }
        return y;
    }

    /// <summary>LayerNormalization over the last axis.</summary>
    public static Nd LayerNorm(Nd x, Nd gamma, Nd beta, double epsilon = 1e-3)
    {
        long last = x.Shape[^1];
        var y = new Nd(x.Shape);
        for (long r = 0; r < x.Data.Length / last; r++)
        {
            double mean = 0, variance = 0;
            for (long j = 0; j < last; j++) mean += x.Data[r * last + j] / last;
            for (long j = 0; j < last; j++) variance += Math.Pow(x.Data[r * last + j] - mean, 2) / last;
            for (long j = 0; j < last; j++) y.Data[r * last + j] = (x.Data[r * last + j] - mean) / Math.Sqrt(variance + epsilon) * gamma[j] + beta[j];
        }
        return y;
    }

    /// <summary>BatchNormalization in training: the batch's mean and population variance over every axis but the last.</summary>
    public static Nd BatchNormTraining(Nd x, Nd gamma, Nd beta, double epsilon = 1e-3)
    {
        long c = x.Shape[^1], rows = x.Data.Length / c;
        var y = new Nd(x.Shape);
        for (long ci = 0; ci < c; ci++)
        {
            double mean = 0, variance = 0;
            for (long r = 0; r < rows; r++) mean += x.Data[r * c + ci] / rows;
            for (long r = 0; r < rows; r++) variance += Math.Pow(x.Data[r * c + ci] - mean, 2) / rows;
            for (long r = 0; r < rows; r++) y.Data[r * c + ci] = (x.Data[r * c + ci] - mean) / Math.Sqrt(variance + epsilon) * gamma[ci] + beta[ci];
        }
        return y;
    }

    /// <summary>Rows of the table (ids clamped into range, as XLA's gather).</summary>
    public static Nd Embedding(Nd table, int[] ids, long n, long positions)
    {
        long rows = table.Shape[0], width = table.Shape[1];
        var y = new Nd(n, positions, width);
        for (long b = 0; b < n; b++)
        for (long p = 0; p < positions; p++)
        for (long j = 0; j < width; j++) y[b, p, j] = table[Math.Clamp(ids[b * positions + p], 0, rows - 1), j];
        return y;
    }

    /// <summary>Keras' MultiHeadAttention with explicit loops over batch, heads and positions: projections with the
    /// EinsumDense kernels ([features, heads, dim]) and biases ([heads, dim]), softmax(q·k / √keyDim) over the key
    /// positions (a causal mask keeps positions s ≤ t), then the output kernel [heads, valueDim, features] and bias.</summary>
    public static Nd MultiHeadAttention(Nd query, Nd value, Nd key, IReadOnlyDictionary<string, Nd> p, string layer, bool useBias, bool causal)
    {
        Nd W(string name) => p[layer + "." + name];
        Nd wq = W("queryKernel"), wk = W("keyKernel"), wv = W("valueKernel"), wo = W("outputKernel");
        long n = query.Shape[0], t = query.Shape[1], s = value.Shape[1], features = wo.Shape[2];
        long heads = wq.Shape[1], keyDim = wq.Shape[2], valueDim = wv.Shape[2];

        Nd Project(Nd x, Nd kernel, string bias)
        {
            long positions = x.Shape[1], inputs = x.Shape[2], dim = kernel.Shape[2];
            var y = new Nd(n, positions, heads, dim);
            for (long b = 0; b < n; b++)
            for (long i = 0; i < positions; i++)
            for (long h = 0; h < heads; h++)
            for (long d = 0; d < dim; d++)
            {
                double sum = useBias ? W(bias)[h, d] : 0;
                for (long f = 0; f < inputs; f++) sum += x[b, i, f] * kernel[f, h, d];
                y[b, i, h, d] = sum;
            }
            return y;
        }

        Nd q = Project(query, wq, "queryBias"), k = Project(key, wk, "keyBias"), v = Project(value, wv, "valueBias");
        var output = new Nd(n, t, features);
        for (long b = 0; b < n; b++)
        for (long i = 0; i < t; i++)
        {
            for (long f = 0; f < features; f++) output[b, i, f] = useBias ? W("outputBias")[f] : 0;
            for (long h = 0; h < heads; h++)
            {
                var scores = new double[s];
                for (long j = 0; j < s; j++)
                {
                    for (long d = 0; d < keyDim; d++) scores[j] += q[b, i, h, d] * k[b, j, h, d];
                    scores[j] /= Math.Sqrt(keyDim);
                    if (causal && j > i) scores[j] = double.NegativeInfinity;
                }
                double max = scores.Max(), total = scores.Sum(z => Math.Exp(z - max));
                for (long d = 0; d < valueDim; d++)
                {
                    double attended = 0;
                    for (long j = 0; j < s; j++) attended += Math.Exp(scores[j] - max) / total * v[b, j, h, d];
                    for (long f = 0; f < features; f++) output[b, i, f] += attended * wo[h, d, f];
                }
            }
        }
        return output;
    }
}
