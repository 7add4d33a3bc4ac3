#!/usr/bin/env bash
# The main job: the Fashion-MNIST sample (installs the dataset when missing). Arguments go to the sample.
set -euo pipefail
cd "$(dirname "$0")"
scripts/ensure-dataset.sh
exec dotnet run -c Release --project samples/FashionMnist -- "$@"
