// Polyfills that let the shared source use modern C# when compiled for netstandard2.0 (the generator).
#if NETSTANDARD2_0
namespace System.Runtime.CompilerServices
{
    internal static class IsExternalInit { }
}
#endif
