#!/usr/bin/env bash
# Builds XlaGen.Bench and its TorchSharp peer bench/XlaGen.Bench.Torch (whose first restore downloads libtorch-cpu,
# ~600 MB), then runs the suites in one process and one JSON: SUITES (default gemm,mlp,infer,cnn). Extra arguments go
# to the suites, e.g. `SUITES=mlp bench/run.sh --reps 5 --epochs 2`.
set -euo pipefail
cd "$(dirname "$0")/.."
dotnet build -c Release bench/XlaGen.Bench.Torch
# WithTorchSharp also builds the in-process peer of the mlp-inproc suite (it loads libtorch only if that suite runs).
dotnet build -c Release -p:WithTorchSharp=true bench/XlaGen.Bench
exec dotnet bench/XlaGen.Bench/bin/Release/net10.0/XlaGen.Bench.dll "${SUITES:-gemm,mlp,infer,cnn}" "$@"
