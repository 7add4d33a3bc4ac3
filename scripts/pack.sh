#!/usr/bin/env bash
# Packs the shipped packages from the Release build into a local folder feed, out/packages (replaced each time):
#   XlaGen          the runtime plus the generator as an analyzer (analyzers/dotnet/cs)
#   XlaGen.Charts   the PNG training chart (ScottPlot, SkiaSharp)
#   xlagen-server   the device server as a .NET tool
# each with its .snupkg symbols. Pass --build to build them first (test.sh has built the solution already).
set -euo pipefail
cd "$(dirname "$0")/.."
build=(--no-build)
if [ "${1:-}" = "--build" ]; then build=(); fi
rm -rf out/packages
for project in src/Runtime/XlaGen.Runtime.csproj src/Charts/XlaGen.Charts.csproj src/Server/XlaGen.Server.csproj; do
  dotnet pack "$project" -c Release --nologo -clp:ErrorsOnly "${build[@]}" -o out/packages
done
# dotnet pack only warns when a project is not packable: check that every package is there.
version=$(dotnet msbuild src/Runtime/XlaGen.Runtime.csproj -getProperty:Version)
for id in XlaGen XlaGen.Charts xlagen-server; do
  for ext in nupkg snupkg; do
    [ -f "out/packages/$id.$version.$ext" ] || { echo "pack: out/packages/$id.$version.$ext was not produced" >&2; exit 1; }
  done
done
echo "pack: $(ls out/packages | tr '\n' ' ')"
