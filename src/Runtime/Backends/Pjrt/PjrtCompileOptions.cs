using Google.Protobuf;

namespace XlaGen.Backends.Pjrt;

/// <summary>The serialized xla.CompileOptionsProto passed to PJRT_Client_Compile (protos/xla/compile_options.proto).</summary>
internal static class PjrtCompileOptions
{
    /// <summary>
    /// One replica, one partition. <paramref name="portable"/> = false (device index 0): device_ordinal -1 (unset), so
    /// the plugin uses its default assignment (its first device); true (other devices): a portable executable that
    /// Execute places with <c>execute_device</c>. num_replicas, num_partitions and device_ordinal are always written
    /// (XLA takes a proto3 zero literally, and 0 replicas is not "default").
    /// </summary>
    public static byte[] Build(bool portable)
    {
        var options = new Xla.CompileOptionsProto
        {
            ExecutableBuildOptions = new Xla.ExecutableBuildOptionsProto
            {
                DeviceOrdinal = -1,
                NumReplicas = 1,
                NumPartitions = 1,
            },
            CompilePortableExecutable = portable,
        };
        return options.ToByteArray();
    }

    /// <summary>
    /// N replicas of one partition (data parallelism): num_replicas = N, and device_assignment {replica_count = N,
    /// computation_count = 1, computation_devices = [{replica_device_ids = <paramref name="deviceIds"/>}]}, replica r on
    /// device id deviceIds[r] (the client's PJRT_Client_DefaultDeviceAssignment); not portable (the devices are fixed
    /// at compile time, and Execute passes one argument list per replica with execute_device NULL).
    /// </summary>
    public static byte[] BuildReplicated(IReadOnlyList<int> deviceIds)
    {
        var assignment = new Xla.DeviceAssignmentProto { ReplicaCount = deviceIds.Count, ComputationCount = 1 };
        var devices = new Xla.DeviceAssignmentProto.Types.ComputationDevice();
        devices.ReplicaDeviceIds.AddRange(deviceIds.Select(id => (long)id));
        assignment.ComputationDevices.Add(devices);
        var options = new Xla.CompileOptionsProto
        {
            ExecutableBuildOptions = new Xla.ExecutableBuildOptionsProto
            {
                DeviceOrdinal = -1,
                NumReplicas = deviceIds.Count,
                NumPartitions = 1,
                DeviceAssignment = assignment,
            },
            CompilePortableExecutable = false,
        };
        return options.ToByteArray();
    }
}
