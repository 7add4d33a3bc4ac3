#!/usr/bin/env bash
# The character-level transformer sample: installs Debian's fortunes (its training text) when missing, then trains.
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ ! -f /usr/share/games/fortunes/fortunes ]; then
  echo "The fortunes text is missing: installing the Debian package fortunes" >&2
  sudo=""; if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  $sudo apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq fortunes >/dev/null
fi
exec dotnet run -c Release --project samples/TinyTransformer -- "$@"
