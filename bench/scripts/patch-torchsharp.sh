#!/usr/bin/env bash
# Makes TorchSharp 0.107 (the mlp bench peer) load on Debian 12. Its libLibTorchSharp.so references one GCC 13 symbol,
# std::ios_base_library_init() @ GLIBCXX_3.4.32; GCC 12's libstdc++ initialises iostreams itself, so the symbol can be a
# no-op. In the build output only: drop the symbol's version, provide it from a tiny shim, and rename the unused
# version requirement to one the system has. Nothing is done when the system libstdc++ already has GLIBCXX_3.4.32.
set -euo pipefail
out="${1:?usage: patch-torchsharp.sh OUTPUT_DIR}"
here="$(cd "$(dirname "$0")" && pwd)"
lib="$out/runtimes/linux-x64/native/libLibTorchSharp.so"
[ -f "$lib" ] || { echo "patch-torchsharp: $lib not found (is TorchSharp-cpu referenced?)" >&2; exit 0; }
sys=$(ldconfig -p | awk '/libstdc\+\+\.so\.6 .*x86-64/ {print $NF; exit}')
if [ -n "$sys" ] && grep -q GLIBCXX_3.4.32 "$sys"; then exit 0; fi
if ! objdump -T "$lib" | grep -q 'GLIBCXX_3.4.32'; then exit 0; fi   # already patched
command -v patchelf >/dev/null || { sudo=""; [ "$(id -u)" -ne 0 ] && sudo=sudo; $sudo apt-get install -y -qq patchelf >/dev/null; }
shim="$out/runtimes/linux-x64/native/libxlagen_glibcxx_shim.so"
printf 'namespace std { void ios_base_library_init() {} }\n' | g++ -x c++ -shared -fPIC -O2 -o "$shim" -
patchelf --clear-symbol-version _ZSt21ios_base_library_initv "$lib"
patchelf --add-needed libxlagen_glibcxx_shim.so "$lib"
patchelf --set-rpath '$ORIGIN' "$lib"
python3 "$here/elf_version_rename.py" "$lib" GLIBCXX_3.4.32 GLIBCXX_3.4.30 >/dev/null
echo "patch-torchsharp: patched $lib for $(basename "${sys:-libstdc++}") without GLIBCXX_3.4.32"
