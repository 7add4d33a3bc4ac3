#!/usr/bin/env bash
# Runs every test of the solution, after installing what the tests need. CI runs this through .ci/run.
set -euo pipefail
cd "$(dirname "$0")"
scripts/ensure-dataset.sh
scripts/ensure-fonts.sh
# The whole solution first: some tests run programs the tests do not reference (tools/DeviceCheck, xlagen-server).
dotnet build XlaGen.sln -c Release --nologo -clp:ErrorsOnly
# The packages into out/packages, the local feed XlaGen.Package.Tests installs them from as a user would.
scripts/pack.sh
# The fuzz harnesses of the HLO text parser, the HLO proto reader and the safetensors reader: seeds and 20,000
# mutants each, in-process (a few seconds; docs/fuzzing.md has the long runs).
dotnet tests/Fuzz/bin/Release/net10.0/XlaGen.Fuzz.dll smoke --out out/fuzz
dotnet test XlaGen.sln -c Release --nologo --no-build "$@"
