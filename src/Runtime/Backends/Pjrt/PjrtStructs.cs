using System.Runtime.InteropServices;

namespace XlaGen.Backends.Pjrt;

// The PJRT C API argument structs XlaGen passes, field for field in the upstream header's order (LP64 Linux).
// Every struct starts with `struct_size` (filled from PjrtLayout, never from sizeof: the C API's size is the offset of
// the last field plus its size, without tail padding) and `extension_start` (always null here).
// tests/XlaGen.Runtime.Tests/Pjrt/PjrtLayoutTests.cs asserts every offset and size against numbers measured with gcc
// from the upstream header (commit named in PjrtLayout).

[StructLayout(LayoutKind.Sequential)]
internal unsafe struct PJRT_Error_Destroy_Args { public nuint struct_size; public void* extension_start; public void* error; }

[StructLayout(LayoutKind.Sequential)]
internal unsafe struct PJRT_Error_Message_Args { public nuint struct_size; public void* extension_start; public void* error; public byte* message; public nuint message_size; }

[StructLayout(LayoutKind.Sequential)]
internal unsafe struct PJRT_Error_GetCode_Args { public nuint struct_size; public void* extension_start; public void* error; public int code; }

[StructLayout(LayoutKind.Explicit)]
internal unsafe struct PJRT_NamedValue
{
    [FieldOffset(0)] public nuint struct_size;
    [FieldOffset(8)] public void* extension_start;
    [FieldOffset(16)] public byte* name;
    [FieldOffset(24)] public nuint name_size;
    [FieldOffset(32)] public int type;
    [FieldOffset(40)] public byte* string_value;
    [FieldOffset(40)] public long int64_value;
    [FieldOffset(40)] public long* int64_array_value;
    [FieldOffset(40)] public float float_value;
    [FieldOffset(40)] public byte bool_value;
    [FieldOffset(48)] public nuint value_size;
}

[StructLayout(LayoutKind.Sequential)]
internal unsafe struct PJRT_Plugin_Initialize_Args { public nuint struct_size; public void* extension_start; }

[StructLayout(LayoutKind.Sequential)]
internal unsafe struct PJRT_Plugin_Attributes_Args { public nuint struct_size; public void* extension_start; public PJRT_NamedValue* attributes; public nuint num_attributes; }

[StructLayout(LayoutKind.Sequential)]
internal unsafe struct PJRT_Event_Destroy_Args { public nuint struct_size; public void* extension_start; public void* @event; }

[StructLayout(LayoutKind.Sequential)]
internal unsafe struct PJRT_Event_IsReady_Args { public nuint struct_size; public void* extension_start; public void* @event; public byte is_ready; }

[StructLayout(LayoutKind.Sequential)]
internal unsafe struct PJRT_Event_Await_Args { public nuint struct_size; public void* extension_start; public void* @event; }

[StructLayout(LayoutKind.Sequential)]
internal unsafe struct PJRT_Event_OnReady_Args { public nuint struct_size; public void* extension_start; public void* @event; public delegate* unmanaged<void*, void*, void> callback; public void* user_arg; }

[StructLayout(LayoutKind.Sequential)]
internal unsafe struct PJRT_Client_Create_Args
{
    public nuint struct_size; public void* extension_start;
    public PJRT_NamedValue* create_options; public nuint num_options;
    public void* kv_get_callback; public void* kv_get_user_arg; public void* kv_put_callback; public void* kv_put_user_arg;
    public void* client;
    public void* kv_try_get_callback; public void* kv_try_get_user_arg;
}

/// <summary>The function PJRT hands to a key-value callback for making its error: <c>PJRT_CallbackError</c> is
/// <c>PJRT_Error* (*)(PJRT_Error_Code code, const char* message, size_t message_size)</c>, and the args structs hold a
/// pointer to one (<c>PJRT_CallbackError* callback_error</c>).</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct PJRT_KeyValueGetCallback_Args
{
    public nuint struct_size; public void* extension_start;
    public byte* key; public nuint key_size;
    public int timeout_in_ms;
    public delegate* unmanaged<int, byte*, nuint, void*>* callback_error;
    public void* user_arg;
    public byte* value; public nuint value_size;
    public delegate* unmanaged<byte*, void> value_deleter_callback;
}

[StructLayout(LayoutKind.Sequential)]
internal unsafe struct PJRT_KeyValueTryGetCallback_Args
{
    public nuint struct_size; public void* extension_start;
    public byte* key; public nuint key_size;
    public delegate* unmanaged<int, byte*, nuint, void*>* callback_error;
    public void* user_arg;
    public byte* value; public nuint value_size;
    public delegate* unmanaged<byte*, void> value_deleter_callback;
}

[StructLayout(LayoutKind.Sequential)]
internal unsafe struct PJRT_KeyValuePutCallback_Args
{
    public nuint struct_size; public void* extension_start;
    public byte* key; public nuint key_size;
    public byte* value; public nuint value_size;
    public delegate* unmanaged<int, byte*, nuint, void*>* callback_error;
    public void* user_arg;
}

[StructLayout(LayoutKind.Sequential)]
internal unsafe struct PJRT_Client_Destroy_Args { public nuint struct_size; public void* extension_start; public void* client; }

/// <summary>Also PJRT_Client_PlatformVersion_Args and PJRT_DeviceDescription_Kind_Args: {…, handle, const char*, size_t}.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct PJRT_String_Args { public nuint struct_size; public void* extension_start; public void* handle; public byte* text; public nuint text_size; }

/// <summary>Also PJRT_DeviceDescription_Id_Args and _ProcessIndex_Args: {…, handle, int}.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct PJRT_Int_Args { public nuint struct_size; public void* extension_start; public void* handle; public int value; }

[StructLayout(LayoutKind.Sequential)]
internal unsafe struct PJRT_Client_AddressableDevices_Args { public nuint struct_size; public void* extension_start; public void* client; public void** addressable_devices; public nuint num_addressable_devices; }

[StructLayout(LayoutKind.Sequential)]
internal unsafe struct PJRT_Program { public nuint struct_size; public void* extension_start; public byte* code; public nuint code_size; public byte* format; public nuint format_size; }

[StructLayout(LayoutKind.Sequential)]
internal unsafe struct PJRT_Client_Compile_Args
{
    public nuint struct_size; public void* extension_start;
    public void* client; public PJRT_Program* program; public byte* compile_options; public nuint compile_options_size;
    public void* executable;
}

[StructLayout(LayoutKind.Sequential)]
internal unsafe struct PJRT_Client_DefaultDeviceAssignment_Args
{
    public nuint struct_size; public void* extension_start;
    public void* client; public int num_replicas; public int num_partitions;
    public nuint default_assignment_size; public int* default_assignment;
}

[StructLayout(LayoutKind.Sequential)]
internal unsafe struct PJRT_Client_BufferFromHostBuffer_Args
{
    public nuint struct_size; public void* extension_start;
    public void* client; public void* data; public int type;
    public long* dims; public nuint num_dims;
    public long* byte_strides; public nuint num_byte_strides;
    public int host_buffer_semantics;
    public void* device; public void* memory; public void* device_layout;
    public void* done_with_host_buffer; public void* buffer;
}

[StructLayout(LayoutKind.Sequential)]
internal unsafe struct PJRT_DeviceDescription_Attributes_Args { public nuint struct_size; public void* extension_start; public void* device_description; public nuint num_attributes; public PJRT_NamedValue* attributes; }

[StructLayout(LayoutKind.Sequential)]
internal unsafe struct PJRT_Device_GetDescription_Args { public nuint struct_size; public void* extension_start; public void* device; public void* device_description; }

[StructLayout(LayoutKind.Sequential)]
internal unsafe struct PJRT_Device_MemoryStats_Args
{
    public nuint struct_size; public void* extension_start; public void* device;
    public long bytes_in_use;
    public long peak_bytes_in_use; public byte peak_bytes_in_use_is_set;
    public long num_allocs; public byte num_allocs_is_set;
    public long largest_alloc_size; public byte largest_alloc_size_is_set;
    public long bytes_limit; public byte bytes_limit_is_set;
    public long bytes_reserved; public byte bytes_reserved_is_set;
    public long peak_bytes_reserved; public byte peak_bytes_reserved_is_set;
    public long bytes_reservable_limit; public byte bytes_reservable_limit_is_set;
    public long largest_free_block_bytes; public byte largest_free_block_bytes_is_set;
    public long pool_bytes; public byte pool_bytes_is_set;
    public long peak_pool_bytes; public byte peak_pool_bytes_is_set;
}

/// <summary>Every {…, handle} destroy: PJRT_Executable_Destroy_Args, PJRT_LoadedExecutable_Destroy_Args,
/// PJRT_Buffer_Destroy_Args (and the same shape as PJRT_Client_Destroy_Args / PJRT_Event_Destroy_Args).</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct PJRT_Handle_Args { public nuint struct_size; public void* extension_start; public void* handle; }

/// <summary>{…, handle, handle out}: PJRT_LoadedExecutable_GetExecutable_Args and PJRT_Buffer_ReadyEvent_Args.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct PJRT_HandleOut_Args { public nuint struct_size; public void* extension_start; public void* handle; public void* result; }

[StructLayout(LayoutKind.Sequential)]
internal unsafe struct PJRT_ExecuteOptions
{
    public nuint struct_size; public void* extension_start;
    public void* send_callbacks; public void* recv_callbacks; public nuint num_send_ops; public nuint num_recv_ops;
    public int launch_id;
    public long* non_donatable_input_indices; public nuint num_non_donatable_input_indices;
    public void* context; public byte* call_location;
    public nuint num_tasks; public int* task_ids; public long* incarnation_ids;
}

[StructLayout(LayoutKind.Sequential)]
internal unsafe struct PJRT_LoadedExecutable_Execute_Args
{
    public nuint struct_size; public void* extension_start;
    public void* executable; public PJRT_ExecuteOptions* options;
    public void*** argument_lists; public nuint num_devices; public nuint num_args;
    public void*** output_lists; public void** device_complete_events; public void* execute_device;
}

[StructLayout(LayoutKind.Sequential)]
internal unsafe struct PJRT_Executable_NumOutputs_Args { public nuint struct_size; public void* extension_start; public void* executable; public nuint num_outputs; }

[StructLayout(LayoutKind.Sequential)]
internal unsafe struct PJRT_Executable_GetCompiledMemoryStats_Args
{
    public nuint struct_size; public void* extension_start; public void* executable;
    public long generated_code_size_in_bytes; public long argument_size_in_bytes; public long output_size_in_bytes;
    public long alias_size_in_bytes; public long temp_size_in_bytes;
    public long host_generated_code_size_in_bytes; public long host_argument_size_in_bytes; public long host_output_size_in_bytes;
    public long host_alias_size_in_bytes; public long host_temp_size_in_bytes;
    public long peak_memory_in_bytes; public long total_size_in_bytes;
}

[StructLayout(LayoutKind.Sequential)]
internal unsafe struct PJRT_Buffer_MemoryLayout_Tiled
{
    public nuint struct_size; public void* extension_start;
    public long* minor_to_major; public nuint minor_to_major_size;
    public long* tile_dims; public nuint* tile_dim_sizes; public nuint num_tiles;
}

[StructLayout(LayoutKind.Explicit)]
internal unsafe struct PJRT_Buffer_MemoryLayout
{
    [FieldOffset(0)] public nuint struct_size;
    [FieldOffset(8)] public void* extension_start;
    [FieldOffset(16)] public PJRT_Buffer_MemoryLayout_Tiled tiled;
    [FieldOffset(72)] public int type;
}

[StructLayout(LayoutKind.Sequential)]
internal unsafe struct PJRT_Buffer_ToHostBuffer_Args
{
    public nuint struct_size; public void* extension_start;
    public void* src; public PJRT_Buffer_MemoryLayout* host_layout; public void* dst; public nuint dst_size; public void* @event;
}
