using XlaGen.Checkpoints;

namespace XlaGen;

// Keras weight import: a trained Keras model's weights into a model written in C#.
public abstract partial class ModelRunner
{
    /// <summary>
    /// Loads the weights of a Keras file into this model's parameters and returns where each went
    /// (<c>Console.WriteLine(model.LoadKeras("model.h5"))</c> prints the table). Reads Keras 2 HDF5 files
    /// (<c>model.save('m.h5')</c> and <c>model.save_weights('w.h5')</c>, following <c>layer_names</c> and each layer's
    /// <c>weight_names</c>), Keras 3 <c>.weights.h5</c> files and <c>.keras</c> archives; the format is told by the
    /// file's first bytes, not its name.
    /// <para>Matching: by name when every Keras weight <c>layer/weight</c> has a parameter with the path
    /// <c>layer.weight</c> (e.g. a sub-model field <c>conv2d_1</c> holding a parameter <c>kernel</c>); else, when every
    /// parameter belongs to a layer of <c>XlaGen.Layers</c>, by Keras layer names: the file's auto-named layers of each
    /// class (<c>dense</c>, <c>dense_1</c> …, in counter order) to the model's layers of that class in declaration order,
    /// each weight by its Keras name, shapes checked (<see cref="Layers.KerasNames"/>); else by order:
    /// the file's layers and weights in order (weightless layers skipped) against the parameters in declaration order.
    /// Shapes must be equal (Keras' layouts are XlaGen's: Dense <c>[in, out]</c>, Conv2D HWIO); floating-point weights
    /// are converted to the parameter's type. Anything that does not fit is refused with one
    /// <see cref="CheckpointException"/> naming each Keras layer and weight, the parameter and both shapes, and then
    /// nothing has changed. Optimizer state in the file is ignored; a compiled optimizer starts fresh (zero slots,
    /// step 0), as after <see cref="Load"/> of a checkpoint without optimizer state.</para>
    /// </summary>
    /// <exception cref="CheckpointException">the file cannot be read as Keras weights, or they do not fit this model.</exception>
    public KerasImportReport LoadKeras(string path)
    {
        ThrowIfDisposed();
        var file = KerasWeightsFile.Read(path);
        var (values, report) = KerasImport.Plan(file, ParameterSpecs, ModelName);

        // Verified: upload everything before replacing anything, so a failing upload changes nothing either.
        var uploaded = new DeviceBuffer[ParameterSpecs.Count];
        (DeviceBuffer[] Slots, DeviceBuffer Step, long StepValue)? freshState = null;
        try
        {
            for (int i = 0; i < uploaded.Length; i++) uploaded[i] = Device.Upload(values[i]);
            if (Optimizer != null) freshState = UploadOptimizerState(Optimizer, layout!, null);
        }
        catch
        {
            foreach (var b in uploaded) b?.Dispose();
            throw;
        }
        for (int i = 0; i < uploaded.Length; i++)
        {
            var old = parameters[i];
            parameters[i] = uploaded[i];
            old.Dispose();
        }
        if (freshState is { } state)
        {
            DisposeOptimizerState();
            slots = state.Slots;
            stepBuffer = state.Step;
            Step = state.StepValue;
        }
        pendingOptimizerState = null;
        return report;
    }
}
