#!/usr/bin/env bash
# A Debug console app trains the 784-256-10 MLP on synthetic data twice: against the XlaGen package of out/packages
# (a Release-built runtime) and against a project reference to src/Runtime (built in Debug, as a user building the
# repository's projects gets it). Prints ms/step of each, alternating, RUNS times, with the load average.
# Usage: bench/debug-package/run.sh [RUNS=3] [EPOCHS=5]   (needs scripts/pack.sh to have run)
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
runs="${1:-3}" epochs="${2:-5}"
version=$(dotnet msbuild "$repo/src/Runtime/XlaGen.Runtime.csproj" -getProperty:Version)
[ -f "$repo/out/packages/XlaGen.$version.nupkg" ] || { echo "out/packages/XlaGen.$version.nupkg is missing: run scripts/pack.sh --build" >&2; exit 1; }
dir=$(mktemp -d /tmp/xlagen-debug-package.XXXXXX)
trap 'rm -rf "$dir"' EXIT
for f in Directory.Build.props Directory.Build.targets Directory.Packages.props; do echo '<Project />' > "$dir/$f"; done
cat > "$dir/NuGet.Config" <<XML
<?xml version="1.0" encoding="utf-8"?>
<configuration>
  <packageSources><clear /><add key="xlagen-local" value="$repo/out/packages" /></packageSources>
  <fallbackPackageFolders><clear /><add key="machine" value="${NUGET_PACKAGES:-$HOME/.nuget/packages}" /></fallbackPackageFolders>
</configuration>
XML
project() { # $1 folder, $2 references
  mkdir -p "$dir/$1"
  cp "$repo/bench/debug-package/Program.cs" "$dir/$1/"
  cat > "$dir/$1/App.csproj" <<XML
<Project Sdk="Microsoft.NET.Sdk">
  <PropertyGroup>
    <OutputType>Exe</OutputType>
    <TargetFramework>net10.0</TargetFramework>
    <ImplicitUsings>enable</ImplicitUsings>
    <Nullable>enable</Nullable>
  </PropertyGroup>
  <ItemGroup>
$2
  </ItemGroup>
</Project>
XML
}
project package "    <PackageReference Include=\"XlaGen\" Version=\"$version\" />"
project reference "    <ProjectReference Include=\"$repo/src/Runtime/XlaGen.Runtime.csproj\" />
    <ProjectReference Include=\"$repo/src/Generator/XlaGen.Generator.csproj\" OutputItemType=\"Analyzer\" ReferenceOutputAssembly=\"false\" />"
export MSBUILDDISABLENODEREUSE=1
# The package is restored into a packages folder of its own (nothing lands in ~/.nuget); the project reference
# restores as the repository's projects always do.
NUGET_PACKAGES="$dir/packages" dotnet build "$dir/package" -c Debug --nologo -v:q -clp:ErrorsOnly
dotnet build "$dir/reference" -c Debug --nologo -v:q -clp:ErrorsOnly
for i in $(seq "$runs"); do
  echo "run $i, load average: $(cut -d' ' -f1-3 /proc/loadavg)"
  for app in package reference; do printf '  %-9s ' "$app:"; dotnet "$dir/$app/bin/Debug/net10.0/App.dll" "$epochs"; done
done
