using System.Reflection;
using System.Runtime.InteropServices;
using XlaGen.Backends.Pjrt;

namespace XlaGen.Tests.Pjrt;

/// <summary>
/// Every PJRT struct size, field offset and PJRT_Api function offset the binding uses, against numbers measured with gcc
/// (offsetof/sizeof, LP64 Linux) from openxla/xla @ 0882740a8496c82a8dc8a25fadba88ca342fb0aa xla/pjrt/c/pjrt_c_api.h
/// (PJRT_API_MINOR 94). Only the numbers are kept here, never the header.
/// </summary>
public class PjrtLayoutTests
{
    static readonly Assembly Runtime = typeof(PjrtPlugin).Assembly;

    static Type Struct(string name) => Runtime.GetType("XlaGen.Backends.Pjrt." + name, throwOnError: true)!;

    static readonly Dictionary<string, string> CarriedBy = new()
    {
        ["PJRT_Client_PlatformName_Args"] = "PJRT_String_Args",
        ["PJRT_Client_PlatformVersion_Args"] = "PJRT_String_Args",
        ["PJRT_DeviceDescription_Kind_Args"] = "PJRT_String_Args",
        ["PJRT_Client_ProcessIndex_Args"] = "PJRT_Int_Args",
        ["PJRT_DeviceDescription_Id_Args"] = "PJRT_Int_Args",
        ["PJRT_DeviceDescription_ProcessIndex_Args"] = "PJRT_Int_Args",
        ["PJRT_Executable_Destroy_Args"] = "PJRT_Handle_Args",
        ["PJRT_LoadedExecutable_Destroy_Args"] = "PJRT_Handle_Args",
        ["PJRT_Buffer_Destroy_Args"] = "PJRT_Handle_Args",
        ["PJRT_LoadedExecutable_GetExecutable_Args"] = "PJRT_HandleOut_Args",
        ["PJRT_Buffer_ReadyEvent_Args"] = "PJRT_HandleOut_Args",
    };

    static int FieldSize(Type t) => t.IsPointer || t.IsFunctionPointer || t.IsUnmanagedFunctionPointer ? IntPtr.Size : Marshal.SizeOf(t);

    [Theory]
    [MemberData(nameof(Offsets))]
    public void FieldOffsetMatchesTheHeader(string upstream, string field, string ours, string ourField, int offset)
    {
        var type = Struct(ours);
        Assert.True(type.GetField(ourField) != null, $"{ours} has no field {ourField} (for {upstream}.{field})");
        Assert.Equal(offset, (int)Marshal.OffsetOf(type, ourField));
    }

    [Theory]
    [MemberData(nameof(Sizes))]
    public void StructSizeMatchesTheHeader(string upstream, int size)
    {
        var constant = typeof(PjrtLayout.Size).GetField(upstream["PJRT_".Length..], BindingFlags.Public | BindingFlags.Static);
        Assert.True(constant != null, $"PjrtLayout.Size has no {upstream["PJRT_".Length..]}");
        Assert.Equal(size, (int)constant.GetValue(null)!);
        // PJRT_STRUCT_SIZE: offset of the last field plus its size (no tail padding), of our struct.
        var type = Struct(CarriedBy.GetValueOrDefault(upstream, upstream));
        var last = type.GetFields(BindingFlags.Public | BindingFlags.Instance).MaxBy(f => (int)Marshal.OffsetOf(type, f.Name))!;
        Assert.Equal(size, (int)Marshal.OffsetOf(type, last.Name) + FieldSize(last.FieldType));
    }

    [Theory]
    [MemberData(nameof(ApiOffsets))]
    public void ApiFunctionOffsetMatchesTheHeader(string function, int offset)
    {
        var constant = typeof(PjrtLayout.Api).GetField(function, BindingFlags.Public | BindingFlags.Static);
        Assert.True(constant != null, $"PjrtLayout.Api has no {function}");
        Assert.Equal(offset, (int)constant.GetValue(null)!);
    }

    [Fact]
    public void ApiHeaderFieldsAndVersion()
    {
        // PJRT_Api { size_t struct_size; PJRT_Extension_Base* extension_start; PJRT_Api_Version pjrt_api_version @16 {…, int major @16, int minor @20}; … }
        Assert.Equal(16, PjrtLayout.ApiVersionOffset);
        Assert.Equal(32, PjrtLayout.ApiVersionMajorOffset);
        Assert.Equal(36, PjrtLayout.ApiVersionMinorOffset);
        Assert.Equal(1072, PjrtLayout.ApiStructSize); // PJRT_Api_STRUCT_SIZE at 0.94
        Assert.Equal(94, PjrtLayout.HeaderMinor);
        Assert.Equal("0882740a8496c82a8dc8a25fadba88ca342fb0aa", PjrtLayout.HeaderCommit);
        Assert.Equal(624, PjrtLayout.ApiRequiredSize);
    }

    [Fact]
    public void EveryArgumentStructIsCovered()
    {
        // Every struct the binding declares is asserted above, so a new one cannot slip in unmeasured.
        var declared = Runtime.GetTypes().Where(t => t.Namespace == "XlaGen.Backends.Pjrt" && t.IsValueType && t.Name.StartsWith("PJRT_", StringComparison.Ordinal)).Select(t => t.Name).ToHashSet();
        var measured = OffsetRows.Select(r => r.Item3).ToHashSet();
        Assert.Empty(declared.Except(measured));
    }

    // (upstream struct, upstream field, C# struct, C# field, offset): offsetof() measured with gcc
    public static TheoryData<string, string, string, string, int> Offsets
    {
        get
        {
            var data = new TheoryData<string, string, string, string, int>();
            foreach (var (a, b, c, d, e) in OffsetRows) data.Add(a, b, c, d, e);
            return data;
        }
    }

    static readonly (string, string, string, string, int)[] OffsetRows =
    {
        ("PJRT_Error_Destroy_Args", "error", "PJRT_Error_Destroy_Args", "error", 16),
        ("PJRT_Error_Message_Args", "error", "PJRT_Error_Message_Args", "error", 16),
        ("PJRT_Error_Message_Args", "message", "PJRT_Error_Message_Args", "message", 24),
        ("PJRT_Error_Message_Args", "message_size", "PJRT_Error_Message_Args", "message_size", 32),
        ("PJRT_Error_GetCode_Args", "error", "PJRT_Error_GetCode_Args", "error", 16),
        ("PJRT_Error_GetCode_Args", "code", "PJRT_Error_GetCode_Args", "code", 24),
        ("PJRT_NamedValue", "name", "PJRT_NamedValue", "name", 16),
        ("PJRT_NamedValue", "name_size", "PJRT_NamedValue", "name_size", 24),
        ("PJRT_NamedValue", "type", "PJRT_NamedValue", "type", 32),
        ("PJRT_NamedValue", "string_value", "PJRT_NamedValue", "string_value", 40),
        ("PJRT_NamedValue", "value_size", "PJRT_NamedValue", "value_size", 48),
        ("PJRT_Plugin_Initialize_Args", "extension_start", "PJRT_Plugin_Initialize_Args", "extension_start", 8), // its only field after struct_size (measured size 16)
        ("PJRT_Plugin_Attributes_Args", "attributes", "PJRT_Plugin_Attributes_Args", "attributes", 16),
        ("PJRT_Plugin_Attributes_Args", "num_attributes", "PJRT_Plugin_Attributes_Args", "num_attributes", 24),
        ("PJRT_Event_Destroy_Args", "event", "PJRT_Event_Destroy_Args", "event", 16),
        ("PJRT_Event_IsReady_Args", "event", "PJRT_Event_IsReady_Args", "event", 16),
        ("PJRT_Event_IsReady_Args", "is_ready", "PJRT_Event_IsReady_Args", "is_ready", 24),
        ("PJRT_Event_Await_Args", "event", "PJRT_Event_Await_Args", "event", 16),
        ("PJRT_Event_OnReady_Args", "event", "PJRT_Event_OnReady_Args", "event", 16),
        ("PJRT_Event_OnReady_Args", "callback", "PJRT_Event_OnReady_Args", "callback", 24),
        ("PJRT_Event_OnReady_Args", "user_arg", "PJRT_Event_OnReady_Args", "user_arg", 32),
        ("PJRT_Client_Create_Args", "create_options", "PJRT_Client_Create_Args", "create_options", 16),
        ("PJRT_Client_Create_Args", "num_options", "PJRT_Client_Create_Args", "num_options", 24),
        ("PJRT_Client_Create_Args", "kv_get_callback", "PJRT_Client_Create_Args", "kv_get_callback", 32),
        ("PJRT_Client_Create_Args", "kv_put_user_arg", "PJRT_Client_Create_Args", "kv_put_user_arg", 56),
        ("PJRT_Client_Create_Args", "client", "PJRT_Client_Create_Args", "client", 64),
        ("PJRT_Client_Create_Args", "kv_try_get_callback", "PJRT_Client_Create_Args", "kv_try_get_callback", 72),
        ("PJRT_Client_Create_Args", "kv_try_get_user_arg", "PJRT_Client_Create_Args", "kv_try_get_user_arg", 80),
        ("PJRT_KeyValueGetCallback_Args", "key", "PJRT_KeyValueGetCallback_Args", "key", 16),
        ("PJRT_KeyValueGetCallback_Args", "key_size", "PJRT_KeyValueGetCallback_Args", "key_size", 24),
        ("PJRT_KeyValueGetCallback_Args", "timeout_in_ms", "PJRT_KeyValueGetCallback_Args", "timeout_in_ms", 32),
        ("PJRT_KeyValueGetCallback_Args", "callback_error", "PJRT_KeyValueGetCallback_Args", "callback_error", 40),
        ("PJRT_KeyValueGetCallback_Args", "user_arg", "PJRT_KeyValueGetCallback_Args", "user_arg", 48),
        ("PJRT_KeyValueGetCallback_Args", "value", "PJRT_KeyValueGetCallback_Args", "value", 56),
        ("PJRT_KeyValueGetCallback_Args", "value_size", "PJRT_KeyValueGetCallback_Args", "value_size", 64),
        ("PJRT_KeyValueGetCallback_Args", "value_deleter_callback", "PJRT_KeyValueGetCallback_Args", "value_deleter_callback", 72),
        ("PJRT_KeyValueTryGetCallback_Args", "key", "PJRT_KeyValueTryGetCallback_Args", "key", 16),
        ("PJRT_KeyValueTryGetCallback_Args", "key_size", "PJRT_KeyValueTryGetCallback_Args", "key_size", 24),
        ("PJRT_KeyValueTryGetCallback_Args", "callback_error", "PJRT_KeyValueTryGetCallback_Args", "callback_error", 32),
        ("PJRT_KeyValueTryGetCallback_Args", "user_arg", "PJRT_KeyValueTryGetCallback_Args", "user_arg", 40),
        ("PJRT_KeyValueTryGetCallback_Args", "value", "PJRT_KeyValueTryGetCallback_Args", "value", 48),
        ("PJRT_KeyValueTryGetCallback_Args", "value_size", "PJRT_KeyValueTryGetCallback_Args", "value_size", 56),
        ("PJRT_KeyValueTryGetCallback_Args", "value_deleter_callback", "PJRT_KeyValueTryGetCallback_Args", "value_deleter_callback", 64),
        ("PJRT_KeyValuePutCallback_Args", "key", "PJRT_KeyValuePutCallback_Args", "key", 16),
        ("PJRT_KeyValuePutCallback_Args", "key_size", "PJRT_KeyValuePutCallback_Args", "key_size", 24),
        ("PJRT_KeyValuePutCallback_Args", "value", "PJRT_KeyValuePutCallback_Args", "value", 32),
        ("PJRT_KeyValuePutCallback_Args", "value_size", "PJRT_KeyValuePutCallback_Args", "value_size", 40),
        ("PJRT_KeyValuePutCallback_Args", "callback_error", "PJRT_KeyValuePutCallback_Args", "callback_error", 48),
        ("PJRT_KeyValuePutCallback_Args", "user_arg", "PJRT_KeyValuePutCallback_Args", "user_arg", 56),
        ("PJRT_Client_Create_Args", "kv_get_user_arg", "PJRT_Client_Create_Args", "kv_get_user_arg", 40),
        ("PJRT_Client_Create_Args", "kv_put_callback", "PJRT_Client_Create_Args", "kv_put_callback", 48),
        ("PJRT_Client_Destroy_Args", "client", "PJRT_Client_Destroy_Args", "client", 16),
        ("PJRT_Client_PlatformName_Args", "client", "PJRT_String_Args", "handle", 16),
        ("PJRT_Client_PlatformName_Args", "platform_name", "PJRT_String_Args", "text", 24),
        ("PJRT_Client_PlatformName_Args", "platform_name_size", "PJRT_String_Args", "text_size", 32),
        ("PJRT_Client_ProcessIndex_Args", "client", "PJRT_Int_Args", "handle", 16),
        ("PJRT_Client_ProcessIndex_Args", "process_index", "PJRT_Int_Args", "value", 24),
        ("PJRT_Client_PlatformVersion_Args", "client", "PJRT_String_Args", "handle", 16),
        ("PJRT_Client_PlatformVersion_Args", "platform_version", "PJRT_String_Args", "text", 24),
        ("PJRT_Client_PlatformVersion_Args", "platform_version_size", "PJRT_String_Args", "text_size", 32),
        ("PJRT_Client_AddressableDevices_Args", "client", "PJRT_Client_AddressableDevices_Args", "client", 16),
        ("PJRT_Client_AddressableDevices_Args", "addressable_devices", "PJRT_Client_AddressableDevices_Args", "addressable_devices", 24),
        ("PJRT_Client_AddressableDevices_Args", "num_addressable_devices", "PJRT_Client_AddressableDevices_Args", "num_addressable_devices", 32),
        ("PJRT_Program", "code", "PJRT_Program", "code", 16),
        ("PJRT_Program", "code_size", "PJRT_Program", "code_size", 24),
        ("PJRT_Program", "format", "PJRT_Program", "format", 32),
        ("PJRT_Program", "format_size", "PJRT_Program", "format_size", 40),
        ("PJRT_Client_Compile_Args", "client", "PJRT_Client_Compile_Args", "client", 16),
        ("PJRT_Client_Compile_Args", "program", "PJRT_Client_Compile_Args", "program", 24),
        ("PJRT_Client_Compile_Args", "compile_options", "PJRT_Client_Compile_Args", "compile_options", 32),
        ("PJRT_Client_Compile_Args", "compile_options_size", "PJRT_Client_Compile_Args", "compile_options_size", 40),
        ("PJRT_Client_Compile_Args", "executable", "PJRT_Client_Compile_Args", "executable", 48),
        // PJRT_Client_DefaultDeviceAssignment_Args: client, int num_replicas, int num_partitions, size_t
        // default_assignment_size, int* default_assignment (XLA's PjRtCApiClient::GetDefaultDeviceAssignment fills them)
        ("PJRT_Client_DefaultDeviceAssignment_Args", "client", "PJRT_Client_DefaultDeviceAssignment_Args", "client", 16),
        ("PJRT_Client_DefaultDeviceAssignment_Args", "num_replicas", "PJRT_Client_DefaultDeviceAssignment_Args", "num_replicas", 24),
        ("PJRT_Client_DefaultDeviceAssignment_Args", "num_partitions", "PJRT_Client_DefaultDeviceAssignment_Args", "num_partitions", 28),
        ("PJRT_Client_DefaultDeviceAssignment_Args", "default_assignment_size", "PJRT_Client_DefaultDeviceAssignment_Args", "default_assignment_size", 32),
        ("PJRT_Client_DefaultDeviceAssignment_Args", "default_assignment", "PJRT_Client_DefaultDeviceAssignment_Args", "default_assignment", 40),
        ("PJRT_Client_BufferFromHostBuffer_Args", "client", "PJRT_Client_BufferFromHostBuffer_Args", "client", 16),
        ("PJRT_Client_BufferFromHostBuffer_Args", "data", "PJRT_Client_BufferFromHostBuffer_Args", "data", 24),
        ("PJRT_Client_BufferFromHostBuffer_Args", "type", "PJRT_Client_BufferFromHostBuffer_Args", "type", 32),
        ("PJRT_Client_BufferFromHostBuffer_Args", "dims", "PJRT_Client_BufferFromHostBuffer_Args", "dims", 40),
        ("PJRT_Client_BufferFromHostBuffer_Args", "num_dims", "PJRT_Client_BufferFromHostBuffer_Args", "num_dims", 48),
        ("PJRT_Client_BufferFromHostBuffer_Args", "byte_strides", "PJRT_Client_BufferFromHostBuffer_Args", "byte_strides", 56),
        ("PJRT_Client_BufferFromHostBuffer_Args", "num_byte_strides", "PJRT_Client_BufferFromHostBuffer_Args", "num_byte_strides", 64),
        ("PJRT_Client_BufferFromHostBuffer_Args", "host_buffer_semantics", "PJRT_Client_BufferFromHostBuffer_Args", "host_buffer_semantics", 72),
        ("PJRT_Client_BufferFromHostBuffer_Args", "device", "PJRT_Client_BufferFromHostBuffer_Args", "device", 80),
        ("PJRT_Client_BufferFromHostBuffer_Args", "memory", "PJRT_Client_BufferFromHostBuffer_Args", "memory", 88),
        ("PJRT_Client_BufferFromHostBuffer_Args", "device_layout", "PJRT_Client_BufferFromHostBuffer_Args", "device_layout", 96),
        ("PJRT_Client_BufferFromHostBuffer_Args", "done_with_host_buffer", "PJRT_Client_BufferFromHostBuffer_Args", "done_with_host_buffer", 104),
        ("PJRT_Client_BufferFromHostBuffer_Args", "buffer", "PJRT_Client_BufferFromHostBuffer_Args", "buffer", 112),
        ("PJRT_DeviceDescription_Id_Args", "device_description", "PJRT_Int_Args", "handle", 16),
        ("PJRT_DeviceDescription_Id_Args", "id", "PJRT_Int_Args", "value", 24),
        ("PJRT_DeviceDescription_ProcessIndex_Args", "device_description", "PJRT_Int_Args", "handle", 16),
        ("PJRT_DeviceDescription_ProcessIndex_Args", "process_index", "PJRT_Int_Args", "value", 24),
        ("PJRT_DeviceDescription_Attributes_Args", "device_description", "PJRT_DeviceDescription_Attributes_Args", "device_description", 16),
        ("PJRT_DeviceDescription_Attributes_Args", "num_attributes", "PJRT_DeviceDescription_Attributes_Args", "num_attributes", 24),
        ("PJRT_DeviceDescription_Attributes_Args", "attributes", "PJRT_DeviceDescription_Attributes_Args", "attributes", 32),
        ("PJRT_DeviceDescription_Kind_Args", "device_description", "PJRT_String_Args", "handle", 16),
        ("PJRT_DeviceDescription_Kind_Args", "device_kind", "PJRT_String_Args", "text", 24),
        ("PJRT_DeviceDescription_Kind_Args", "device_kind_size", "PJRT_String_Args", "text_size", 32),
        ("PJRT_Device_GetDescription_Args", "device", "PJRT_Device_GetDescription_Args", "device", 16),
        ("PJRT_Device_GetDescription_Args", "device_description", "PJRT_Device_GetDescription_Args", "device_description", 24),
        ("PJRT_Device_MemoryStats_Args", "device", "PJRT_Device_MemoryStats_Args", "device", 16),
        ("PJRT_Device_MemoryStats_Args", "bytes_in_use", "PJRT_Device_MemoryStats_Args", "bytes_in_use", 24),
        ("PJRT_Device_MemoryStats_Args", "peak_bytes_in_use", "PJRT_Device_MemoryStats_Args", "peak_bytes_in_use", 32),
        ("PJRT_Device_MemoryStats_Args", "peak_bytes_in_use_is_set", "PJRT_Device_MemoryStats_Args", "peak_bytes_in_use_is_set", 40),
        ("PJRT_Device_MemoryStats_Args", "bytes_limit", "PJRT_Device_MemoryStats_Args", "bytes_limit", 80),
        ("PJRT_Device_MemoryStats_Args", "bytes_limit_is_set", "PJRT_Device_MemoryStats_Args", "bytes_limit_is_set", 88),
        ("PJRT_Device_MemoryStats_Args", "peak_pool_bytes_is_set", "PJRT_Device_MemoryStats_Args", "peak_pool_bytes_is_set", 184),
        ("PJRT_Executable_Destroy_Args", "executable", "PJRT_Handle_Args", "handle", 16),
        ("PJRT_LoadedExecutable_Destroy_Args", "executable", "PJRT_Handle_Args", "handle", 16),
        ("PJRT_LoadedExecutable_GetExecutable_Args", "loaded_executable", "PJRT_HandleOut_Args", "handle", 16),
        ("PJRT_LoadedExecutable_GetExecutable_Args", "executable", "PJRT_HandleOut_Args", "result", 24),
        ("PJRT_ExecuteOptions", "send_callbacks", "PJRT_ExecuteOptions", "send_callbacks", 16),
        ("PJRT_ExecuteOptions", "recv_callbacks", "PJRT_ExecuteOptions", "recv_callbacks", 24),
        ("PJRT_ExecuteOptions", "num_send_ops", "PJRT_ExecuteOptions", "num_send_ops", 32),
        ("PJRT_ExecuteOptions", "num_recv_ops", "PJRT_ExecuteOptions", "num_recv_ops", 40),
        ("PJRT_ExecuteOptions", "launch_id", "PJRT_ExecuteOptions", "launch_id", 48),
        ("PJRT_ExecuteOptions", "non_donatable_input_indices", "PJRT_ExecuteOptions", "non_donatable_input_indices", 56),
        ("PJRT_ExecuteOptions", "num_non_donatable_input_indices", "PJRT_ExecuteOptions", "num_non_donatable_input_indices", 64),
        ("PJRT_ExecuteOptions", "context", "PJRT_ExecuteOptions", "context", 72),
        ("PJRT_ExecuteOptions", "call_location", "PJRT_ExecuteOptions", "call_location", 80),
        ("PJRT_ExecuteOptions", "num_tasks", "PJRT_ExecuteOptions", "num_tasks", 88),
        ("PJRT_ExecuteOptions", "task_ids", "PJRT_ExecuteOptions", "task_ids", 96),
        ("PJRT_ExecuteOptions", "incarnation_ids", "PJRT_ExecuteOptions", "incarnation_ids", 104),
        ("PJRT_LoadedExecutable_Execute_Args", "executable", "PJRT_LoadedExecutable_Execute_Args", "executable", 16),
        ("PJRT_LoadedExecutable_Execute_Args", "options", "PJRT_LoadedExecutable_Execute_Args", "options", 24),
        ("PJRT_LoadedExecutable_Execute_Args", "argument_lists", "PJRT_LoadedExecutable_Execute_Args", "argument_lists", 32),
        ("PJRT_LoadedExecutable_Execute_Args", "num_devices", "PJRT_LoadedExecutable_Execute_Args", "num_devices", 40),
        ("PJRT_LoadedExecutable_Execute_Args", "num_args", "PJRT_LoadedExecutable_Execute_Args", "num_args", 48),
        ("PJRT_LoadedExecutable_Execute_Args", "output_lists", "PJRT_LoadedExecutable_Execute_Args", "output_lists", 56),
        ("PJRT_LoadedExecutable_Execute_Args", "device_complete_events", "PJRT_LoadedExecutable_Execute_Args", "device_complete_events", 64),
        ("PJRT_LoadedExecutable_Execute_Args", "execute_device", "PJRT_LoadedExecutable_Execute_Args", "execute_device", 72),
        ("PJRT_Executable_NumOutputs_Args", "executable", "PJRT_Executable_NumOutputs_Args", "executable", 16),
        ("PJRT_Executable_NumOutputs_Args", "num_outputs", "PJRT_Executable_NumOutputs_Args", "num_outputs", 24),
        ("PJRT_Executable_GetCompiledMemoryStats_Args", "executable", "PJRT_Executable_GetCompiledMemoryStats_Args", "executable", 16),
        ("PJRT_Executable_GetCompiledMemoryStats_Args", "generated_code_size_in_bytes", "PJRT_Executable_GetCompiledMemoryStats_Args", "generated_code_size_in_bytes", 24),
        ("PJRT_Executable_GetCompiledMemoryStats_Args", "argument_size_in_bytes", "PJRT_Executable_GetCompiledMemoryStats_Args", "argument_size_in_bytes", 32),
        ("PJRT_Executable_GetCompiledMemoryStats_Args", "output_size_in_bytes", "PJRT_Executable_GetCompiledMemoryStats_Args", "output_size_in_bytes", 40),
        ("PJRT_Executable_GetCompiledMemoryStats_Args", "alias_size_in_bytes", "PJRT_Executable_GetCompiledMemoryStats_Args", "alias_size_in_bytes", 48),
        ("PJRT_Executable_GetCompiledMemoryStats_Args", "temp_size_in_bytes", "PJRT_Executable_GetCompiledMemoryStats_Args", "temp_size_in_bytes", 56),
        ("PJRT_Executable_GetCompiledMemoryStats_Args", "peak_memory_in_bytes", "PJRT_Executable_GetCompiledMemoryStats_Args", "peak_memory_in_bytes", 104),
        ("PJRT_Executable_GetCompiledMemoryStats_Args", "total_size_in_bytes", "PJRT_Executable_GetCompiledMemoryStats_Args", "total_size_in_bytes", 112),
        ("PJRT_Buffer_Destroy_Args", "buffer", "PJRT_Handle_Args", "handle", 16),
        ("PJRT_Buffer_ToHostBuffer_Args", "src", "PJRT_Buffer_ToHostBuffer_Args", "src", 16),
        ("PJRT_Buffer_ToHostBuffer_Args", "host_layout", "PJRT_Buffer_ToHostBuffer_Args", "host_layout", 24),
        ("PJRT_Buffer_ToHostBuffer_Args", "dst", "PJRT_Buffer_ToHostBuffer_Args", "dst", 32),
        ("PJRT_Buffer_ToHostBuffer_Args", "dst_size", "PJRT_Buffer_ToHostBuffer_Args", "dst_size", 40),
        ("PJRT_Buffer_ToHostBuffer_Args", "event", "PJRT_Buffer_ToHostBuffer_Args", "event", 48),
        ("PJRT_Buffer_ReadyEvent_Args", "buffer", "PJRT_HandleOut_Args", "handle", 16),
        ("PJRT_Buffer_ReadyEvent_Args", "event", "PJRT_HandleOut_Args", "result", 24),
        ("PJRT_Buffer_MemoryLayout_Tiled", "minor_to_major", "PJRT_Buffer_MemoryLayout_Tiled", "minor_to_major", 16),
        ("PJRT_Buffer_MemoryLayout_Tiled", "minor_to_major_size", "PJRT_Buffer_MemoryLayout_Tiled", "minor_to_major_size", 24),
        ("PJRT_Buffer_MemoryLayout_Tiled", "tile_dims", "PJRT_Buffer_MemoryLayout_Tiled", "tile_dims", 32),
        ("PJRT_Buffer_MemoryLayout_Tiled", "tile_dim_sizes", "PJRT_Buffer_MemoryLayout_Tiled", "tile_dim_sizes", 40),
        ("PJRT_Buffer_MemoryLayout_Tiled", "num_tiles", "PJRT_Buffer_MemoryLayout_Tiled", "num_tiles", 48),
        ("PJRT_Buffer_MemoryLayout", "tiled", "PJRT_Buffer_MemoryLayout", "tiled", 16),
        ("PJRT_Buffer_MemoryLayout", "type", "PJRT_Buffer_MemoryLayout", "type", 72),
    };

    // (upstream struct, T_STRUCT_SIZE measured with gcc)
    public static TheoryData<string, int> Sizes => new()
    {
        { "PJRT_Error_Destroy_Args", 24 },
        { "PJRT_Error_Message_Args", 40 },
        { "PJRT_Error_GetCode_Args", 28 },
        { "PJRT_NamedValue", 56 },
        { "PJRT_Plugin_Initialize_Args", 16 },
        { "PJRT_Plugin_Attributes_Args", 32 },
        { "PJRT_Event_Destroy_Args", 24 },
        { "PJRT_Event_IsReady_Args", 25 },
        { "PJRT_Event_Await_Args", 24 },
        { "PJRT_Event_OnReady_Args", 40 },
        { "PJRT_Client_Create_Args", 88 },
        { "PJRT_KeyValueGetCallback_Args", 80 },
        { "PJRT_KeyValueTryGetCallback_Args", 72 },
        { "PJRT_KeyValuePutCallback_Args", 64 },
        { "PJRT_Client_Destroy_Args", 24 },
        { "PJRT_Client_PlatformName_Args", 40 },
        { "PJRT_Client_ProcessIndex_Args", 28 },
        { "PJRT_Client_PlatformVersion_Args", 40 },
        { "PJRT_Client_AddressableDevices_Args", 40 },
        { "PJRT_Program", 48 },
        { "PJRT_Client_Compile_Args", 56 },
        { "PJRT_Client_DefaultDeviceAssignment_Args", 48 },
        { "PJRT_Client_BufferFromHostBuffer_Args", 120 },
        { "PJRT_DeviceDescription_Id_Args", 28 },
        { "PJRT_DeviceDescription_ProcessIndex_Args", 28 },
        { "PJRT_DeviceDescription_Attributes_Args", 40 },
        { "PJRT_DeviceDescription_Kind_Args", 40 },
        { "PJRT_Device_GetDescription_Args", 32 },
        { "PJRT_Device_MemoryStats_Args", 185 },
        { "PJRT_Executable_Destroy_Args", 24 },
        { "PJRT_LoadedExecutable_Destroy_Args", 24 },
        { "PJRT_LoadedExecutable_GetExecutable_Args", 32 },
        { "PJRT_ExecuteOptions", 112 },
        { "PJRT_LoadedExecutable_Execute_Args", 80 },
        { "PJRT_Executable_NumOutputs_Args", 32 },
        { "PJRT_Executable_GetCompiledMemoryStats_Args", 120 },
        { "PJRT_Buffer_Destroy_Args", 24 },
        { "PJRT_Buffer_ToHostBuffer_Args", 56 },
        { "PJRT_Buffer_ReadyEvent_Args", 32 },
        { "PJRT_Buffer_MemoryLayout_Tiled", 56 },
        { "PJRT_Buffer_MemoryLayout", 76 },
    };
    // (PJRT_Api function, offsetof(PJRT_Api, PJRT_<function>)) measured with gcc
    public static TheoryData<string, int> ApiOffsets => new()
    {
        { "Error_Destroy", 40 },
        { "Error_Message", 48 },
        { "Error_GetCode", 56 },
        { "Plugin_Initialize", 64 },
        { "Plugin_Attributes", 72 },
        { "Event_Destroy", 80 },
        { "Event_IsReady", 88 },
        { "Event_Await", 104 },
        { "Event_OnReady", 112 },
        { "Client_Create", 120 },
        { "Client_Destroy", 128 },
        { "Client_PlatformName", 136 },
        { "Client_ProcessIndex", 144 },
        { "Client_PlatformVersion", 152 },
        { "Client_AddressableDevices", 168 },
        { "Client_Compile", 200 },
        { "Client_DefaultDeviceAssignment", 208 },
        { "Client_BufferFromHostBuffer", 216 },
        { "DeviceDescription_Id", 224 },
        { "DeviceDescription_ProcessIndex", 232 },
        { "DeviceDescription_Attributes", 240 },
        { "DeviceDescription_Kind", 248 },
        { "Device_GetDescription", 272 },
        { "Device_MemoryStats", 312 },
        { "Executable_Destroy", 360 },
        { "Executable_NumOutputs", 392 },
        { "LoadedExecutable_Destroy", 440 },
        { "LoadedExecutable_GetExecutable", 448 },
        { "LoadedExecutable_Execute", 480 },
        { "Buffer_Destroy", 504 },
        { "Buffer_ToHostBuffer", 600 },
        { "Buffer_ReadyEvent", 616 },
        { "Executable_GetCompiledMemoryStats", 808 },
    };
}
