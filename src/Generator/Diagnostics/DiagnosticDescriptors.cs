using System.Collections.Generic;
using System.Linq;
using Microsoft.CodeAnalysis;

namespace XlaGen.Generator.Diagnostics
{
    /// <summary>Every diagnostic XlaGen reports. Ids are stable; titles state the problem.</summary>
    public static class DiagnosticDescriptors
    {
        const string Category = "XlaGen";

        public static readonly DiagnosticDescriptor ShapeMismatch = new DiagnosticDescriptor(
            "XG0001", "Tensor shapes do not fit", "{0}", Category, DiagnosticSeverity.Error, isEnabledByDefault: true,
            description: "The shapes of the tensors in this expression are incompatible; XlaGen checks every op at build time.");

        public static readonly DiagnosticDescriptor ElementTypeMismatch = new DiagnosticDescriptor(
            "XG0002", "Tensor element types do not fit", "{0}", Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

        public static readonly DiagnosticDescriptor UnsupportedConstruct = new DiagnosticDescriptor(
            "XG0003", "XlaGen cannot compile this construct", "XlaGen cannot compile {0} in model method '{1}': {2}", Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

        public static readonly DiagnosticDescriptor ModelClassMustBePartial = new DiagnosticDescriptor(
            "XG0004", "An [XlaModel] class must be partial", "[XlaModel] class '{0}' must be declared partial (and so must any class containing it), so XlaGen can add its programs and runner", Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

        public static readonly DiagnosticDescriptor ParamShapeMustBeConstant = new DiagnosticDescriptor(
            "XG0005", "A parameter needs a constant, positive shape", "[Param] field '{0}' {1}", Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

        public static readonly DiagnosticDescriptor UnknownSymbolicDimension = new DiagnosticDescriptor(
            "XG0006", "Unknown symbolic dimension", "{0}", Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

        public static readonly DiagnosticDescriptor UnsupportedParameterType = new DiagnosticDescriptor(
            "XG0007", "Unsupported parameter type", "{0}", Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

        public static readonly DiagnosticDescriptor InputShapeMissing = new DiagnosticDescriptor(
            "XG0008", "A tensor input needs a [Shape]", "Tensor input '{0}' of '{1}' needs a [Shape(...)] attribute such as [Shape(\"B\", 784)], where numbers are fixed dims and strings are symbolic dims", Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

        public static readonly DiagnosticDescriptor RecursiveModelCall = new DiagnosticDescriptor(
            "XG0009", "Recursive call in a model", "'{0}' calls itself through {1}; model methods are inlined at build time and cannot recurse", Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

        public static readonly DiagnosticDescriptor SubModelNotCompiled = new DiagnosticDescriptor(
            "XG0010", "Sub-model was not compiled by XlaGen", "Field '{0}' has model type '{1}', which {2}", Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

        public static readonly DiagnosticDescriptor ModelClassUnsupported = new DiagnosticDescriptor(
            "XG0011", "Unsupported [XlaModel] class", "[XlaModel] class '{0}' {1}", Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

        public static readonly DiagnosticDescriptor NoForwardMethods = new DiagnosticDescriptor(
            "XG0012", "Model without programs", "[XlaModel] class '{0}' has no [Forward] or [Loss] method, so XlaGen generates no program for it", Category, DiagnosticSeverity.Warning, isEnabledByDefault: true);

        public static readonly DiagnosticDescriptor LossMustBeScalar = new DiagnosticDescriptor(
            "XG0013", "A loss must be a floating-point scalar", "[Loss] method '{0}' returns {1}; a loss must be a floating-point scalar (reduce it, for example with Mean())", Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

        public static readonly DiagnosticDescriptor NoGradientRule = new DiagnosticDescriptor(
            "XG0014", "No gradient for an op on the loss path", "'{0}' cannot be differentiated for [Loss] '{1}': {2}", Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

        public static readonly DiagnosticDescriptor LossNeedsBatchDimension = new DiagnosticDescriptor(
            "XG0015", "Loss inputs need a shared batch dimension", "[Loss] method '{0}' {1}; every input of a loss must start with the same symbolic batch dimension, such as [Shape(\"B\", 784)] x and [Shape(\"B\")] labels", Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

        public static readonly DiagnosticDescriptor MultipleLossMethods = new DiagnosticDescriptor(
            "XG0016", "More than one [Loss] method", "[XlaModel] class '{0}' has more than one [Loss] method ({1}); training uses one loss, so mark one of them", Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

        public static readonly DiagnosticDescriptor ParamTooLarge = new DiagnosticDescriptor(
            "XG0017", "A parameter is too large to exist", "[Param] field '{0}' of shape {1} {2}", Category, DiagnosticSeverity.Error, isEnabledByDefault: true,
            description: "Parameters are held in one array on the host and by the CPU executor; a shape whose element count or byte size overflows, or exceeds Array.MaxLength, would fail in Create.");

        public static readonly DiagnosticDescriptor PredictNotChosen = new DiagnosticDescriptor(
            "XG0018", "Predict is not chosen explicitly", "[XlaModel] class '{0}' has several [Forward] methods ({1}) and none is chosen for Predict, so Predict runs '{2}'; mark one [Forward(Default = true)] or name it Predict or Call", Category, DiagnosticSeverity.Warning, isEnabledByDefault: true,
            description: "Predict runs the [Forward] method marked Default = true, else the one named Predict or Call, else the only one; with several and none chosen it runs the first batchable one and warns.");

        public static readonly DiagnosticDescriptor SeveralDefaultForwards = new DiagnosticDescriptor(
            "XG0019", "More than one default [Forward] method", "[XlaModel] class '{0}' marks more than one [Forward] method Default = true ({1}); Predict runs one, so mark only one", Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

        public static readonly DiagnosticDescriptor ParamDimensionUnknown = new DiagnosticDescriptor(
            "XG0020", "A [Param] dimension names nothing with a value", "[Param] field '{0}' of '{1}' names the dimension '{2}', {3}", Category, DiagnosticSeverity.Error, isEnabledByDefault: true,
            description: "A named dimension ([Param(\"In\", \"Out\")]) is the int value of a constructor parameter, or of a field or property set from constants, of the instance being built.");

        public static readonly DiagnosticDescriptor ConstructorArgumentNotConstant = new DiagnosticDescriptor(
            "XG0021", "A sub-model's constructor argument is not a build-time constant", "Argument '{0}' for parameter '{1}' of sub-model '{2}' ({3}) is not a build-time constant; a sub-model is configured at build time, so its arguments are literals, consts, constructor parameters and constant fields of the model that creates it, or arithmetic and Math calls on them", Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

        public static readonly DiagnosticDescriptor SubModelInstanceInvalid = new DiagnosticDescriptor(
            "XG0022", "A configured sub-model does not work with its arguments", "Sub-model {0} {1}", Category, DiagnosticSeverity.Error, isEnabledByDefault: true,
            description: "Reported where the sub-model is created, because the arguments of that instance cause the error (another instance of the same class may compile).");

        public static readonly DiagnosticDescriptor UnrollLimitExceeded = new DiagnosticDescriptor(
            "XG0023", "A loop unrolls too many times", "'{0}' in model method '{1}' runs more than {2} iterations at build time; loops over constants are unrolled into the program, so keep them under {2} iterations or write the computation with tensor ops", Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

        public static readonly DiagnosticDescriptor ParametersExceedDeviceMemory = new DiagnosticDescriptor(
            "XG0024", "Parameters exceed the configured device memory", "[XlaModel] class '{0}' has {1} of parameters, more than the device memory XlaGenDeviceMemory = {2} ({3}); the largest: {4}", Category, DiagnosticSeverity.Error, isEnabledByDefault: true,
            description: "Parameters stay resident on the device, so a model whose parameters alone exceed <XlaGenDeviceMemory> in the project file cannot run there; optimizer state and activations come on top at run time.");

        public static readonly DiagnosticDescriptor DeviceMemoryMalformed = new DiagnosticDescriptor(
            "XG0025", "XlaGenDeviceMemory is not a memory size", "The build property XlaGenDeviceMemory = '{0}' is not a memory size: {1}; write a number and a unit, such as 16GiB or 80GB (B; KB, MB, GB, TB are powers of 1000; KiB, MiB, GiB, TiB powers of 1024)", Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

        public static readonly IReadOnlyList<DiagnosticDescriptor> All = new[]
        {
            ParametersExceedDeviceMemory, DeviceMemoryMalformed,
            ParamDimensionUnknown, ConstructorArgumentNotConstant, SubModelInstanceInvalid, UnrollLimitExceeded,
            ParamTooLarge, PredictNotChosen, SeveralDefaultForwards,
            LossMustBeScalar, NoGradientRule, LossNeedsBatchDimension, MultipleLossMethods,
            ShapeMismatch, ElementTypeMismatch, UnsupportedConstruct, ModelClassMustBePartial, ParamShapeMustBeConstant,
            UnknownSymbolicDimension, UnsupportedParameterType, InputShapeMissing, RecursiveModelCall, SubModelNotCompiled,
            ModelClassUnsupported, NoForwardMethods,
        };

        static readonly Dictionary<string, DiagnosticDescriptor> ById = All.ToDictionary(d => d.Id);

        public static DiagnosticDescriptor Get(string id) => ById[id];
    }
}
