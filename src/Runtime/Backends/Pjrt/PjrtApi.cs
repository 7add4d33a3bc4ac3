using System.Runtime.InteropServices;
using System.Text;

namespace XlaGen.Backends.Pjrt;

/// <summary>
/// A plugin's <c>PJRT_Api</c> function table: every call goes through <see cref="Fn"/>, which checks that the plugin's
/// table is long enough to hold the function (its <c>struct_size</c>) and that the pointer is set, and every returned
/// <c>PJRT_Error</c> goes through <see cref="Check"/>, which reads its code and message, destroys it exactly once and
/// throws <see cref="PjrtException"/>.
/// </summary>
internal sealed unsafe class PjrtApi
{
    readonly byte* table;

    public PjrtApi(void* api, string path)
    {
        table = (byte*)api;
        Path = path;
        StructSize = *(nuint*)(table + PjrtLayout.ApiStructSizeOffset);
        Major = *(int*)(table + PjrtLayout.ApiVersionMajorOffset);
        Minor = *(int*)(table + PjrtLayout.ApiVersionMinorOffset);
    }

    public string Path { get; }

    public nuint StructSize { get; }

    public int Major { get; }

    public int Minor { get; }

    public string Version => string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{Major}.{Minor}");

    public static string OurVersion => string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{PjrtLayout.HeaderMajor}.{PjrtLayout.HeaderMinor}");

    /// <summary>Whether the plugin's table holds the function at <paramref name="offset"/> (and it is set).</summary>
    public bool Has(int offset) => (nuint)(offset + sizeof(void*)) <= StructSize && *(void**)(table + offset) != null;

    /// <summary>The function at <paramref name="offset"/>; a clear error naming it when the plugin lacks it.</summary>
    public void* Fn(int offset, string name)
    {
        if ((nuint)(offset + sizeof(void*)) > StructSize)
        {
            throw new PjrtException(PjrtErrorCode.Unimplemented, name,
                $"the plugin {Path} (PJRT API {Version}, PJRT_Api of {StructSize} bytes) predates {name} (at byte {offset} of PJRT_Api in our header {OurVersion}); use a newer plugin");
        }
        var f = *(void**)(table + offset);
        if (f == null) throw new PjrtException(PjrtErrorCode.Unimplemented, name, $"the plugin {Path} (PJRT API {Version}) leaves {name} unset");
        return f;
    }

    /// <summary>Calls a PJRT function taking one args struct; throws on its error.</summary>
    public void Call(int offset, string name, void* args, string? context = null)
    {
        var f = (delegate* unmanaged<void*, void*>)Fn(offset, name);
        Check(f(args), name, context);
    }

    /// <summary>Throws the error (after destroying it) when <paramref name="error"/> is not null.</summary>
    public void Check(void* error, string function, string? context = null)
    {
        if (error != null) throw TakeError(error, function, context);
    }

    /// <summary>Reads a PJRT_Error into an exception and destroys it (exactly once).</summary>
    public PjrtException TakeError(void* error, string function, string? context = null)
    {
        var (code, message) = ReadAndDestroy(error);
        return new PjrtException(code, function, message, context);
    }

    public (PjrtErrorCode Code, string Message) ReadAndDestroy(void* error)
    {
        string message;
        var code = PjrtErrorCode.Unknown;
        try
        {
            var m = new PJRT_Error_Message_Args { struct_size = PjrtLayout.Size.Error_Message_Args, error = error };
            ((delegate* unmanaged<void*, void>)Fn(PjrtLayout.Api.Error_Message, "PJRT_Error_Message"))(&m);
            message = Utf8(m.message, m.message_size);
            var c = new PJRT_Error_GetCode_Args { struct_size = PjrtLayout.Size.Error_GetCode_Args, error = error };
            var codeError = ((delegate* unmanaged<void*, void*>)Fn(PjrtLayout.Api.Error_GetCode, "PJRT_Error_GetCode"))(&c);
            if (codeError == null) code = (PjrtErrorCode)c.code;
            else Destroy(codeError);
        }
        finally
        {
            Destroy(error);
        }
        return (code, message);
    }

    public void Destroy(void* error)
    {
        var d = new PJRT_Error_Destroy_Args { struct_size = PjrtLayout.Size.Error_Destroy_Args, error = error };
        ((delegate* unmanaged<void*, void>)Fn(PjrtLayout.Api.Error_Destroy, "PJRT_Error_Destroy"))(&d);
    }

    /// <summary>Calls a destroy function ({…, handle}) from a SafeHandle's release: an error is destroyed, not thrown.</summary>
    public bool DestroyHandle(int offset, string name, int size, void* handle)
    {
        var a = new PJRT_Handle_Args { struct_size = (nuint)size, handle = handle };
        var error = ((delegate* unmanaged<void*, void*>)Fn(offset, name))(&a);
        if (error == null) return true;
        Destroy(error);
        return false;
    }

    public static string Utf8(byte* text, nuint length) =>
        text == null || length == 0 ? "" : Encoding.UTF8.GetString(text, checked((int)length));

    /// <summary>Named values (plugin and device attributes) as invariant text.</summary>
    public static Dictionary<string, string> ReadNamedValues(PJRT_NamedValue* values, nuint count)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        for (nuint i = 0; i < count; i++)
        {
            var v = values + i;
            string name = Utf8(v->name, v->name_size);
            result[name] = v->type switch
            {
                PjrtLayout.NamedString => Utf8(v->string_value, v->value_size),
                PjrtLayout.NamedInt64 => v->int64_value.ToString(System.Globalization.CultureInfo.InvariantCulture),
                PjrtLayout.NamedInt64List => "[" + string.Join(",", Enumerable.Range(0, checked((int)v->value_size))
                    .Select(k => v->int64_array_value[k].ToString(System.Globalization.CultureInfo.InvariantCulture))) + "]",
                PjrtLayout.NamedFloat => v->float_value.ToString("R", System.Globalization.CultureInfo.InvariantCulture),
                PjrtLayout.NamedBool => v->bool_value != 0 ? "true" : "false",
                _ => $"(value of unknown PJRT_NamedValue_Type {v->type})",
            };
        }
        return result;
    }
}

/// <summary>Unmanaged memory for the strings and arrays passed to one call; freed on dispose.</summary>
internal sealed unsafe class NativeArena : IDisposable
{
    readonly List<nint> blocks = new();

    public void* Alloc(nuint bytes)
    {
        var p = NativeMemory.AllocZeroed(bytes == 0 ? 1 : bytes);
        blocks.Add((nint)p);
        return p;
    }

    public byte* Utf8(string text, out nuint length)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        var p = (byte*)Alloc((nuint)bytes.Length + 1);
        bytes.CopyTo(new Span<byte>(p, bytes.Length));
        length = (nuint)bytes.Length;
        return p;
    }

    public void Dispose()
    {
        foreach (var b in blocks) NativeMemory.Free((void*)b);
        blocks.Clear();
    }
}
