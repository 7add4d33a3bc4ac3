#!/usr/bin/env bash
# Installs Debian's dataset-fashion-mnist when the Fashion-MNIST files are missing (or FASHION_MNIST_DIR is unset).
set -euo pipefail
dir="${FASHION_MNIST_DIR:-/usr/share/datasets/fashion-mnist}"
if [ -f "$dir/t10k-images-idx3-ubyte.gz" ]; then exit 0; fi
if [ -n "${FASHION_MNIST_DIR:-}" ]; then
  echo "FASHION_MNIST_DIR=$dir does not hold the Fashion-MNIST files" >&2; exit 1
fi
echo "Fashion-MNIST is missing: installing the Debian package dataset-fashion-mnist" >&2
sudo=""; if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
$sudo apt-get update -qq >/dev/null
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq dataset-fashion-mnist >/dev/null
test -f "$dir/t10k-images-idx3-ubyte.gz"
