using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Operations;

namespace XlaGen.Generator.Parsing
{
    /// <summary>Plain words for a C# construct a model method cannot hold, and what to write instead. Messages never
    /// carry Roslyn's node kinds ("Invalid", "DelegateCreation"): a user wrote an if, a lambda or a Math call.</summary>
    static class Constructs
    {
        /// <summary>"'text' (an if statement)": the code, shortened, and what it is.</summary>
        public static string Describe(IOperation op)
        {
            var text = op.Syntax.ToString();
            if (text.Length > 60) text = text.Substring(0, 57) + "...";
            return $"'{text}' ({What(op)})";
        }

        static string What(IOperation op)
        {
            switch (op)
            {
                case IConditionalOperation _ when op.Syntax is IfStatementSyntax: return "an if statement";
                case IConditionalOperation _: return "a conditional expression";
                case ISwitchOperation _:
                case ISwitchExpressionOperation _: return "a switch";
                case ILoopOperation _: return "a loop";
                case IAnonymousFunctionOperation _:
                case IDelegateCreationOperation _: return "a lambda";
                case ILocalFunctionOperation _: return "a local function";
                case IThrowOperation _: return "a throw";
                case ITryOperation _: return "a try statement";
                case IUsingOperation _: return "a using statement";
                case IObjectCreationOperation _: return "an object created with new";
                case IPropertyReferenceOperation _: return "a property";
                case IInterpolatedStringOperation _:
                case ILiteralOperation _: return "a value that is not a number or a bool";
                case IIsPatternOperation _:
                case IIsTypeOperation _: return "a type test";
                case IInvalidOperation _ when IsMathCall(op): return "a Math call on tensors";
                case IInvalidOperation _: return "code with C# compile errors";
                default: return op.Syntax is StatementSyntax ? "a statement model methods do not hold" : "an expression model methods do not compile";
            }
        }

        /// <summary>What to write instead.</summary>
        public static string Hint(IOperation at)
        {
            switch (at)
            {
                case IConditionalOperation _:
                case ISwitchOperation _:
                case ISwitchExpressionOperation _:
                    return "branches are taken at build time, so a condition may only use build-time constants (consts, constructor arguments, fields set from them, loop variables); to choose between tensor values elementwise use Nn.Where(condition, a, b)";
                case ILoopOperation _: return "loops are unrolled at build time, so they run over arrays of sub-models or constant arrays, or with build-time bounds; otherwise write the computation with tensor ops";
                case IAnonymousFunctionOperation _:
                case IDelegateCreationOperation _:
                    return "a lambda cannot become part of a program; write it as a method of the model and call that method";
                case ILocalFunctionOperation _:
                case IInvocationOperation { TargetMethod: { MethodKind: MethodKind.LocalFunction } }:
                    return "move the local function into a method of the model and call that method";
                case IInvalidOperation _ when IsMathCall(at):
                    return "Math and MathF work on numbers only; on tensors write a.Maximum(b) or a.Minimum(b) (Tensor.Maximum/Minimum), Nn.Relu(x) for max(x, 0), x.Sqrt(), x.Exp(), x.Log(), x.Abs()";
                case IInvalidOperation _: return "fix the C# compile errors reported for this code first";
                default: return "see the supported surface in README.md";
            }
        }

        static bool IsMathCall(IOperation op) =>
            op.Syntax is InvocationExpressionSyntax { Expression: MemberAccessExpressionSyntax member }
            && (member.Expression.ToString() == "Math" || member.Expression.ToString() == "MathF"
                || member.Expression.ToString() == "System.Math" || member.Expression.ToString() == "System.MathF");
    }
}
