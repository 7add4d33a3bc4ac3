#!/usr/bin/env bash
# Runs every test of the solution, after installing what the tests need. CI runs this through .ci/run.
set -euo pipefail
cd "$(dirname "$0")"
scripts/ensure-dataset.sh
scripts/ensure-fonts.sh
# The whole solution first: some tests run programs the tests do not reference (tools/DeviceCheck, xlagen-server).
dotnet build XlaGen.sln -c Release --nologo -clp:ErrorsOnly
dotnet test XlaGen.sln -c Release --nologo --no-build "$@"
