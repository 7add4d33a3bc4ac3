using XlaGen.Backends.Cpu;
using XlaGen.Backends.Cpu.Kernels;
using XlaGen.Backends.Cpu.Plan;
using XlaGen.Hlo;

namespace XlaGen.Tests.Cpu;

/// <summary>
/// The CPU executor's loop fusion: what the pass groups (and refuses to group), that the rewritten module verifies,
/// and that every fused program computes bitwise what the unfused one does, at sizes that hit the chunk edges, the
/// merged last chunk and the multi-core split.
/// </summary>
public class LoopFusionTests
{
    static readonly CpuDevice Fused = new() { Fusion = true };
    static readonly CpuDevice Unfused = new() { Fusion = false };

    static HloModule Fuse(string text)
    {
        var fused = LoopFusion.Run(HloTextParser.Parse(text));
        var problems = HloVerifier.Check(fused);
        Assert.True(problems.Count == 0, string.Join("\n", problems) + "\n" + HloPrinter.Print(fused));
        return fused;
    }

    static int Fusions(HloModule m) => m.Entry.Instructions.Count(i => i.Opcode == "fusion");

    static Tensor Random(Shape s, int seed)
    {
        var rng = new System.Random(seed);
        var dims = s.ConcreteDims();
        long n = s.ElementCount;
        return s.ElementType switch
        {
            ElementType.F32 => Tensor<float>.FromArray(Enumerable.Range(0, (int)n).Select(_ => (float)(rng.NextDouble() * 4 - 2)).ToArray(), dims),
            ElementType.F64 => Tensor<double>.FromArray(Enumerable.Range(0, (int)n).Select(_ => rng.NextDouble() * 4 - 2).ToArray(), dims),
            ElementType.S32 => Tensor<int>.FromArray(Enumerable.Range(0, (int)n).Select(_ => rng.Next(-50, 50)).ToArray(), dims),
            _ => throw new NotSupportedException(s.ToString()),
        };
    }

    /// <summary>Runs the module on both devices with the same random arguments; every output must be bitwise equal.</summary>
    static void AssertSameResults(string text, int seed = 1)
    {
        var module = HloTextParser.Parse(text);
        var args = module.Entry.Parameters.Select((p, i) => Random(p.Shape, seed + i)).ToArray();
        byte[][] Run(CpuDevice d)
        {
            using var exe = d.CompileHlo(module);
            return ResultBytes.Of(d, exe, args);
        }
        var expected = Run(Unfused);
        var actual = Run(Fused);
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++) Assert.True(expected[i].AsSpan().SequenceEqual(actual[i]), $"output {i} differs");
    }

    static string BatchNormLike(int n, int c, string type = "f32") => $$"""
        HloModule bn

        ENTRY main {
          x = {{type}}[{{n}},{{c}}] parameter(0)
          mean = {{type}}[{{c}}] parameter(1)
          scale = {{type}}[{{c}}] parameter(2)
          beta = {{type}}[{{c}}] parameter(3)
          bm = {{type}}[{{n}},{{c}}] broadcast(mean), dimensions={1}
          centered = {{type}}[{{n}},{{c}}] subtract(x, bm)
          bs = {{type}}[{{n}},{{c}}] broadcast(scale), dimensions={1}
          scaled = {{type}}[{{n}},{{c}}] multiply(centered, bs)
          bb = {{type}}[{{n}},{{c}}] broadcast(beta), dimensions={1}
          shifted = {{type}}[{{n}},{{c}}] add(scaled, bb)
          zero = {{type}}[] constant(0)
          bz = {{type}}[{{n}},{{c}}] broadcast(zero), dimensions={}
          ROOT relu = {{type}}[{{n}},{{c}}] maximum(shifted, bz)
        }
        """;

    [Fact]
    public void ChainWithBroadcastsBecomesOneFusionWithoutMaterialisingTheBroadcasts()
    {
        var fused = Fuse(BatchNormLike(64, 32));
        Assert.True(Fusions(fused) == 1, HloPrinter.Print(fused));
        Assert.DoesNotContain(fused.Entry.Instructions, i => i.Opcode is "broadcast" or "subtract" or "multiply" or "add" or "maximum");
        var body = fused.Entry.Root.CalledComputations.Single();
        Assert.True(body.IsFusionComputation);
        Assert.Equal(4, body.Parameters.Count);
        Assert.Equal("kLoop", fused.Entry.Root.Attributes.FusionKind);
    }

    [Theory]
    [InlineData(1, 32)]          // 32 elements: one short chunk
    [InlineData(3, 7)]           // 21: below one vector width of f64, not of f32
    [InlineData(64, 32)]         // exactly one chunk
    [InlineData(193, 32)]        // 3 chunks and a remainder the last chunk absorbs
    [InlineData(1000, 33)]       // period not dividing the chunk
    [InlineData(70000, 32)]      // above the split grain: several cores
    public void BatchNormChainIsBitwiseTheUnfusedResult(int n, int c)
    {
        AssertSameResults(BatchNormLike(n, c));
        AssertSameResults(BatchNormLike(n, c, "f64"));
    }

    [Fact]
    public void TranscendentalsAtChunkEdgesAreBitwiseTheUnfusedResult()
    {
        foreach (int n in new[] { 5, 17, 2048, 2049, 4096 + 15, 3 * 2048 + 2047 })
        {
            AssertSameResults($$"""
                HloModule t

                ENTRY main {
                  x = f32[{{n}}] parameter(0)
                  e = f32[{{n}}] exponential(x)
                  t = f32[{{n}}] tanh(e)
                  l = f32[{{n}}] logistic(x)
                  s = f32[{{n}}] multiply(t, l)
                  a = f32[{{n}}] abs(s)
                  g = f32[{{n}}] log(a)
                  ROOT r = f32[{{n}}] divide(g, e)
                }
                """, seed: n);
        }
    }

    /// <summary>BatchNorm's x − mean is read by the loop that sums its squares and by the normalising loop after that
    /// sum; the normalising loop recomputes it from x instead of reading it, so the first loop writes only its column
    /// sums, and ReLU's mask (pred) is recomputed by a later loop that reads x anyway. Bitwise the unfused result; with
    /// duplication off, the first loop writes x − mean too.</summary>
    [Fact]
    public void CheapProducersAreRecomputedInsteadOfWritten()
    {
        const string text = """
            HloModule dup

            add_f32 {
              a = f32[] parameter(0)
              b = f32[] parameter(1)
              ROOT s = f32[] add(a, b)
            }

            ENTRY main {
              x = f32[512,32] parameter(0)
              mean = f32[32] parameter(1)
              scale = f32[32] parameter(2)
              g = f32[512,32] parameter(3)
              bm = f32[512,32] broadcast(mean), dimensions={1}
              d = f32[512,32] subtract(x, bm)
              sq = f32[512,32] multiply(d, d)
              zero = f32[] constant(0)
              var = f32[32] reduce(sq, zero), dimensions={0}, to_apply=add_f32
              bv = f32[512,32] broadcast(var), dimensions={1}
              n = f32[512,32] divide(d, bv)
              bs = f32[512,32] broadcast(scale), dimensions={1}
              s = f32[512,32] multiply(n, bs)
              bz = f32[512,32] broadcast(zero), dimensions={}
              relu = f32[512,32] maximum(s, bz)
              mask = pred[512,32] compare(s, bz), direction=GT
              total = f32[32] reduce(relu, zero), dimensions={0}, to_apply=add_f32
              bt = f32[512,32] broadcast(total), dimensions={1}
              gt = f32[512,32] multiply(g, bt)
              masked = f32[512,32] select(mask, gt, bz)
              back = f32[512,32] add(masked, d)
              ROOT out = (f32[512,32], f32[512,32]) tuple(relu, back)
            }
            """;
        static Shape[] Results(HloInstruction f) => f.Shape.IsTuple ? f.Shape.TupleShapes.ToArray() : new[] { f.Shape };
        var fused = Fuse(text);
        var fusions = fused.Entry.Instructions.Where(i => i.Opcode == "fusion").ToList();
        // the loop of d and its column sums writes only the sums
        Assert.Contains(fusions, f => Results(f).All(r => r.Rank == 1));
        // nothing writes the mask
        Assert.DoesNotContain(fusions, f => Results(f).Any(r => r.ElementType == ElementType.Pred));
        AssertSameResults(text);
        var plain = LoopFusion.Run(HloTextParser.Parse(text), duplicate: false);
        Assert.Contains(plain.Entry.Instructions, i => i.Opcode == "fusion" && Results(i).Any(r => r.ElementType == ElementType.Pred));
    }

    [Fact]
    public void ValuesReadOutsideTheFusionAreExtraOutputs()
    {
        const string text = """
            HloModule multi

            add_f32 {
              a = f32[] parameter(0)
              b = f32[] parameter(1)
              ROOT s = f32[] add(a, b)
            }

            ENTRY main {
              x = f32[256,16] parameter(0)
              y = f32[256,16] parameter(1)
              p = f32[256,16] multiply(x, y)
              q = f32[256,16] exponential(p)
              zero = f32[] constant(0)
              sum = f32[16] reduce(p, zero), dimensions={0}, to_apply=add_f32
              r = f32[256,16] add(q, x)
              ROOT out = (f32[256,16], f32[16]) tuple(r, sum)
            }
            """;
        var fused = Fuse(text);
        var fusion = Assert.Single(fused.Entry.Instructions, i => i.Opcode == "fusion");
        Assert.True(fusion.Shape.IsTuple);   // p (read by the reduce) and r (the result)
        Assert.Equal(2, fusion.Shape.TupleShapes.Count);
        AssertSameResults(text);
    }

    [Fact]
    public void AMemberThatReadsWhatDependsOnTheFusionStartsAnotherOne()
    {
        // c reads the reduce of b, so it cannot join {a, b}: that fusion would need its own result first
        const string text = """
            HloModule cycle

            add_f32 {
              a = f32[] parameter(0)
              b = f32[] parameter(1)
              ROOT s = f32[] add(a, b)
            }

            ENTRY main {
              x = f32[128,8] parameter(0)
              a = f32[128,8] multiply(x, x)
              b = f32[128,8] exponential(a)
              zero = f32[] constant(0)
              sum = f32[8] reduce(b, zero), dimensions={0}, to_apply=add_f32
              bs = f32[128,8] broadcast(sum), dimensions={1}
              c = f32[128,8] divide(b, bs)
              ROOT d = f32[128,8] negate(c)
            }
            """;
        var fused = Fuse(text);
        Assert.Equal(2, Fusions(fused));
        AssertSameResults(text);
    }

    [Fact]
    public void ABackwardChainJoinsTheFusionOfWhatItReadsFromAnEarlierFusion()
    {
        // mask is computed in the forward fusion; the backward chain reads it and t (a transpose of the forward result,
        // not fusible). g = t·½ comes before the select in program order, and mask's own place is after g, but the
        // forward fusion runs before g: the select joins g's fusion instead of leaving g alone in a pass of its own.
        const string text = """
            HloModule backward

            ENTRY main {
              x = f32[64,64] parameter(0)
              s = f32[64] parameter(1)
              bs = f32[64,64] broadcast(s), dimensions={1}
              y = f32[64,64] multiply(x, bs)
              zero = f32[] constant(0)
              bz = f32[64,64] broadcast(zero), dimensions={}
              relu = f32[64,64] maximum(y, bz)
              t = f32[64,64] transpose(relu), dimensions={1,0}
              half = f32[] constant(0.5)
              bh = f32[64,64] broadcast(half), dimensions={}
              g = f32[64,64] multiply(t, bh)
              mask = pred[64,64] compare(y, bz), direction=GT
              ROOT dy = f32[64,64] select(mask, g, bz)
            }
            """;
        var fused = Fuse(text);
        Assert.Equal(2, Fusions(fused));
        Assert.DoesNotContain(fused.Entry.Instructions, i => i.Opcode is "multiply" or "select" or "compare");
        AssertSameResults(text);
    }

    [Fact]
    public void LeadingBroadcastsAndMixedTypesFuse()
    {
        const string text = """
            HloModule mixed

            ENTRY main {
              x = f32[300,10] parameter(0)
              rowscale = f32[300] parameter(1)
              k = s32[300,10] parameter(2)
              br = f32[300,10] broadcast(rowscale), dimensions={0}
              m = f32[300,10] multiply(x, br)
              z = f32[] constant(0)
              bz = f32[300,10] broadcast(z), dimensions={}
              positive = pred[300,10] compare(m, bz), direction=GT
              kf = f32[300,10] convert(k)
              chosen = f32[300,10] select(positive, m, kf)
              asint = s32[300,10] convert(chosen)
              ROOT sum = s32[300,10] add(asint, k)
            }
            """;
        var fused = Fuse(text);
        Assert.True(Fusions(fused) == 1, HloPrinter.Print(fused));
        AssertSameResults(text);
    }

    [Fact]
    public void BroadcastsOfMiddleDimsStayMaterialisedAndTheResultIsUnchanged()
    {
        const string text = """
            HloModule middle

            ENTRY main {
              x = f32[4,32,8] parameter(0)
              v = f32[32] parameter(1)
              b = f32[4,32,8] broadcast(v), dimensions={1}
              m = f32[4,32,8] multiply(x, b)
              ROOT e = f32[4,32,8] exponential(m)
            }
            """;
        var fused = Fuse(text);
        Assert.Contains(fused.Entry.Instructions, i => i.Opcode == "broadcast");
        AssertSameResults(text);
    }

    [Fact]
    public void SingleOpsWithoutArrayBroadcastsAreLeftAlone()
    {
        const string text = """
            HloModule single

            ENTRY main {
              x = f32[64] parameter(0)
              y = f32[64] parameter(1)
              ROOT s = f32[64] add(x, y)
            }
            """;
        var module = HloTextParser.Parse(text);
        Assert.Same(module, LoopFusion.Run(module));
    }

    [Fact]
    public void TheInputModuleIsNotChanged()
    {
        var module = HloTextParser.Parse(BatchNormLike(16, 4));
        string before = HloPrinter.Print(module);
        var fused = LoopFusion.Run(module);
        Assert.NotSame(module, fused);
        Assert.Equal(before, HloPrinter.Print(module));
    }

    [Fact]
    public void WhileBodiesAreFusedToo()
    {
        const string text = """
            HloModule loop

            cond {
              s = (s32[], f32[512]) parameter(0)
              i = s32[] get-tuple-element(s), index=0
              n = s32[] constant(5)
              ROOT lt = pred[] compare(i, n), direction=LT
            }

            body {
              s = (s32[], f32[512]) parameter(0)
              i = s32[] get-tuple-element(s), index=0
              x = f32[512] get-tuple-element(s), index=1
              one = s32[] constant(1)
              j = s32[] add(i, one)
              h = f32[] constant(0.5)
              bh = f32[512] broadcast(h), dimensions={}
              y = f32[512] multiply(x, bh)
              z = f32[512] tanh(y)
              w = f32[512] add(z, x)
              ROOT t = (s32[], f32[512]) tuple(j, w)
            }

            ENTRY main {
              x = f32[512] parameter(0)
              zero = s32[] constant(0)
              init = (s32[], f32[512]) tuple(zero, x)
              r = (s32[], f32[512]) while(init), condition=cond, body=body
              ROOT out = f32[512] get-tuple-element(r), index=1
            }
            """;
        var fused = Fuse(text);
        var body = fused.Computations.Single(c => c.Name == "body");
        Assert.Contains(body.Instructions, i => i.Opcode == "fusion");
        AssertSameResults(text);
    }

    /// <summary>BatchNorm's statistics in training: the variance's sum reads (x − mean)², which only that sum needs.</summary>
    static string BatchNormStatistics(string dims, int c, string reduced) => $$"""
        HloModule bn_statistics

        add {
          p = f32[] parameter(0)
          q = f32[] parameter(1)
          ROOT s = f32[] add(p, q)
        }

        ENTRY main {
          x = f32[{{dims}}] parameter(0)
          mean = f32[{{c}}] parameter(1)
          bm = f32[{{dims}}] broadcast(mean), dimensions={{{reduced.Split(',').Length}}}
          centered = f32[{{dims}}] subtract(x, bm)
          squares = f32[{{dims}}] multiply(centered, centered)
          zero = f32[] constant(0)
          sum = f32[{{c}}] reduce(squares, zero), dimensions={{{reduced}}}, to_apply=add
          ROOT out = (f32[{{dims}}], f32[{{c}}]) tuple(centered, sum)
        }
        """;

    [Theory]
    [InlineData("64,32", 32, "0")]              // one chunk: one block
    [InlineData("65,32", 32, "0")]              // the last chunk absorbs a short block
    [InlineData("3,32", 32, "0")]               // below one chunk
    [InlineData("193,64", 64, "0")]             // 6 chunks of 32 rows, the last with a short block
    [InlineData("128,26,26,32", 32, "0,1,2")]   // the CNN's first BatchNorm: several cores
    [InlineData("128,11,11,64", 64, "0,1,2")]
    public void ColumnSumsFuseIntoTheirProducerAndMatchTheUnfusedSums(string dims, int c, string reduced)
    {
        var text = BatchNormStatistics(dims, c, reduced);
        var fused = Fuse(text);
        var fusion = fused.Entry.Instructions.Single(i => i.Opcode == "fusion");
        Assert.Equal("kInput", fusion.Attributes.FusionKind);
        Assert.DoesNotContain(fused.Entry.Instructions, i => i.Opcode == "reduce");
        // the squares are read only by the sum: computed in registers, never written
        Assert.Equal(2, fusion.Shape.TupleShapes.Count);
        AssertSameResults(text);
        using (Par.ScaleGrainsForTesting(12)) AssertSameResults(text, seed: 7);
    }

    [Fact]
    public void ALoopThatOnlySumsIsOneFusionToo()
    {
        var text = """
            HloModule sum_of_squares

            add {
              p = f32[] parameter(0)
              q = f32[] parameter(1)
              ROOT s = f32[] add(p, q)
            }

            ENTRY main {
              x = f32[300,16] parameter(0)
              y = f32[300,16] parameter(1)
              d = f32[300,16] subtract(x, y)
              sq = f32[300,16] multiply(d, d)
              init = f32[] constant(0.5)
              ROOT sum = f32[16] reduce(sq, init), dimensions={0}, to_apply=add
            }
            """;
        var fused = Fuse(text);
        Assert.Equal("kInput", fused.Entry.Root.Attributes.FusionKind);
        AssertSameResults(text);
    }

    [Theory]
    [InlineData("300,33", "0", "33")]          // 33 columns do not divide a chunk: a block would straddle chunks
    [InlineData("300,32", "1", "300")]         // a row sum, not a column sum
    public void OtherReductionsStayOutsideTheLoop(string dims, string reduced, string result)
    {
        var text = $$"""
            HloModule other

            add {
              p = f32[] parameter(0)
              q = f32[] parameter(1)
              ROOT s = f32[] add(p, q)
            }

            ENTRY main {
              x = f32[{{dims}}] parameter(0)
              e = f32[{{dims}}] exponential(x)
              n = f32[{{dims}}] negate(e)
              zero = f32[] constant(0)
              ROOT sum = f32[{{result}}] reduce(n, zero), dimensions={{{reduced}}}, to_apply=add
            }
            """;
        var fused = Fuse(text);
        Assert.Equal("reduce", fused.Entry.Root.Opcode);
        Assert.Equal("kLoop", fused.Entry.Root.Operands[0].Attributes.FusionKind);
        AssertSameResults(text);
    }

    [Fact]
    public void SplitPathsMatchWithSmallGrains()
    {
        using var _ = Par.ScaleGrainsForTesting(12);
        AssertSameResults(BatchNormLike(300, 32));
    }
}
