namespace XlaGen.Backends.Pjrt;

/// <summary>
/// The PJRT C API numbers XlaGen depends on: the <c>struct_size</c> of every argument struct it passes and the byte
/// offset of every <c>PJRT_Api</c> function pointer it calls. Measured with gcc (<c>offsetof</c>/<c>sizeof</c>, LP64
/// Linux) from openxla/xla @ 0882740a8496c82a8dc8a25fadba88ca342fb0aa <c>xla/pjrt/c/pjrt_c_api.h</c>
/// (<c>PJRT_API_MAJOR</c> 0, <c>PJRT_API_MINOR</c> 94); every number common with gomlx/gopjrt @ cbc52020's copy of the
/// 0.81 header measured the same. Sizes follow the header's <c>PJRT_STRUCT_SIZE</c> (offset of the last field plus its
/// size, no tail padding). Plugins accept a caller's struct that is at least as large as theirs, so these are the
/// newest sizes we know; a plugin older than a field we fill ignores it.
/// </summary>
internal static class PjrtLayout
{
    public const int HeaderMajor = 0;
    public const int HeaderMinor = 94;

    /// <summary>0.57 rearranged PJRT_Api's function pointers; our offsets hold from there on.</summary>
    public const int MinimumMinor = 57;

    public const string HeaderCommit = "0882740a8496c82a8dc8a25fadba88ca342fb0aa";

    /// <summary>Offsets inside PJRT_Api of its own header fields.</summary>
    public const int ApiStructSizeOffset = 0;
    public const int ApiVersionOffset = 16;
    public const int ApiVersionMajorOffset = 16 + 16;
    public const int ApiVersionMinorOffset = 16 + 20;

    /// <summary>PJRT_Api_STRUCT_SIZE at 0.94.</summary>
    public const int ApiStructSize = 1072;

    /// <summary>The PJRT_Api prefix every supported plugin must have: the functions up to PJRT_Buffer_ReadyEvent.</summary>
    public const int ApiRequiredSize = Api.Buffer_ReadyEvent + 8;

    /// <summary>Byte offsets of the PJRT_Api function pointers we call.</summary>
    public static class Api
    {
        public const int Error_Destroy = 40;
        public const int Error_Message = 48;
        public const int Error_GetCode = 56;
        public const int Plugin_Initialize = 64;
        public const int Plugin_Attributes = 72;
        public const int Event_Destroy = 80;
        public const int Event_IsReady = 88;
        public const int Event_Await = 104;
        public const int Event_OnReady = 112;
        public const int Client_Create = 120;
        public const int Client_Destroy = 128;
        public const int Client_PlatformName = 136;
        public const int Client_ProcessIndex = 144;
        public const int Client_PlatformVersion = 152;
        public const int Client_AddressableDevices = 168;
        public const int Client_Compile = 200;
        public const int Client_DefaultDeviceAssignment = 208;
        public const int Client_BufferFromHostBuffer = 216;
        public const int DeviceDescription_Id = 224;
        public const int DeviceDescription_ProcessIndex = 232;
        public const int DeviceDescription_Attributes = 240;
        public const int DeviceDescription_Kind = 248;
        public const int Device_GetDescription = 272;
        public const int Device_MemoryStats = 312;
        public const int Executable_Destroy = 360;
        public const int Executable_NumOutputs = 392;
        public const int LoadedExecutable_Destroy = 440;
        public const int LoadedExecutable_GetExecutable = 448;
        public const int LoadedExecutable_Execute = 480;
        public const int Buffer_Destroy = 504;
        public const int Buffer_ToHostBuffer = 600;
        public const int Buffer_ReadyEvent = 616;
        public const int Executable_GetCompiledMemoryStats = 808;
    }

    /// <summary><c>T_STRUCT_SIZE</c> of every argument struct we fill.</summary>
    public static class Size
    {
        public const int Error_Destroy_Args = 24;
        public const int Error_Message_Args = 40;
        public const int Error_GetCode_Args = 28;
        public const int NamedValue = 56;
        public const int Plugin_Initialize_Args = 16;
        public const int Plugin_Attributes_Args = 32;
        public const int Event_Destroy_Args = 24;
        public const int Event_IsReady_Args = 25;
        public const int Event_Await_Args = 24;
        public const int Event_OnReady_Args = 40;
        public const int Client_Create_Args = 88;
        public const int KeyValueGetCallback_Args = 80;
        public const int KeyValueTryGetCallback_Args = 72;
        public const int KeyValuePutCallback_Args = 64;
        public const int Client_Destroy_Args = 24;
        public const int Client_PlatformName_Args = 40;
        public const int Client_ProcessIndex_Args = 28;
        public const int Client_PlatformVersion_Args = 40;
        public const int Client_AddressableDevices_Args = 40;
        public const int Program = 48;
        public const int Client_Compile_Args = 56;
        public const int Client_DefaultDeviceAssignment_Args = 48;
        public const int Client_BufferFromHostBuffer_Args = 120;
        public const int DeviceDescription_Id_Args = 28;
        public const int DeviceDescription_ProcessIndex_Args = 28;
        public const int DeviceDescription_Attributes_Args = 40;
        public const int DeviceDescription_Kind_Args = 40;
        public const int Device_GetDescription_Args = 32;
        public const int Device_MemoryStats_Args = 185;
        public const int Executable_Destroy_Args = 24;
        public const int LoadedExecutable_Destroy_Args = 24;
        public const int LoadedExecutable_GetExecutable_Args = 32;
        public const int ExecuteOptions = 112;
        public const int LoadedExecutable_Execute_Args = 80;
        public const int Executable_NumOutputs_Args = 32;
        public const int Executable_GetCompiledMemoryStats_Args = 120;
        public const int Buffer_Destroy_Args = 24;
        public const int Buffer_MemoryLayout_Tiled = 56;
        public const int Buffer_MemoryLayout = 76;
        public const int Buffer_ToHostBuffer_Args = 56;
        public const int Buffer_ReadyEvent_Args = 32;
    }

    /// <summary>PJRT_NamedValue_Type.</summary>
    public const int NamedString = 0, NamedInt64 = 1, NamedInt64List = 2, NamedFloat = 3, NamedBool = 4;

    /// <summary>PJRT_HostBufferSemantics_kImmutableUntilTransferCompletes.</summary>
    public const int ImmutableUntilTransferCompletes = 1;

    /// <summary>PJRT_Buffer_MemoryLayout_Type_Tiled.</summary>
    public const int MemoryLayoutTiled = 0;
}
