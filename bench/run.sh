#!/usr/bin/env bash
# The gemm (vs OpenBLAS) and mlp (vs TorchSharp) suites in one run, with the TorchSharp peer (downloads libtorch-cpu, ~600 MB, on first use). Extra arguments go to the suite.
set -euo pipefail
cd "$(dirname "$0")/.."
exec dotnet run -c Release -p:WithTorchSharp=true --project bench/XlaGen.Bench -- "${SUITES:-gemm,mlp}" "$@"
