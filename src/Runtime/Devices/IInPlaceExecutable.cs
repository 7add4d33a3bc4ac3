namespace XlaGen;

/// <summary>
/// An executable that can run a step in place: results go into a caller-owned array, and a result the module aliases to
/// a donated argument (<see cref="Hlo.HloModule.InputOutputAliases"/>) comes back in that argument's own handle, rebound
/// to the new value, so a training step that updates its parameters, optimizer slots, step and accumulators allocates
/// no handles. The CPU executor implements it; other devices run <see cref="IExecutable.Execute"/> (which returns new
/// handles and deletes the donated ones).
/// </summary>
internal interface IInPlaceExecutable
{
    /// <summary>Runs the program on <paramref name="arguments"/> and writes its results into <paramref name="results"/>
    /// (one element per result leaf).</summary>
    void ExecuteInPlace(IReadOnlyList<DeviceBuffer> arguments, ExecuteOptions options, DeviceBuffer[] results);
}
