#!/usr/bin/env bash
# The main job: the Fashion-MNIST sample (installs the dataset when missing). Arguments go to the sample.
set -euo pipefail
cd "$(dirname "$0")"
scripts/ensure-dataset.sh
scripts/ensure-fonts.sh   # the training chart's labels need a TrueType font
exec dotnet run -c Release --project samples/FashionMnist -- "$@"
