using System.Linq;
using XlaGen.Generator.Model;
using XlaGen.Hlo;

namespace XlaGen.Generator.Parsing
{
    /// <summary>Exact bytes of [Param] tensors: elements × element size (checked; XG0017 keeps real parameters in range).</summary>
    static class ParameterBytes
    {
        public static long Of(ParamSpec p)
        {
            if (!ElementTypes.TryParse(p.ElementTypeName, out var type)) return 0;
            long n = type.ByteSize();
            foreach (var d in p.Dims) n = checked(n * d);
            return n;
        }

        /// <summary>All parameters, and the trainable ones (the bytes of one optimizer slot).</summary>
        public static (long All, long Trainable) Totals(ModelSpec spec)
        {
            var trainable = spec.Loss?.TrainableParams.ToList() ?? new System.Collections.Generic.List<string>();
            long all = 0, slot = 0;
            foreach (var p in spec.Params)
            {
                long b = Of(p);
                all = checked(all + b);
                if (trainable.Contains(p.Path)) slot = checked(slot + b);
            }
            return (all, slot);
        }
    }
}
