#!/usr/bin/env bash
# Installs a TrueType font (Debian's fonts-dejavu-core) when none is present, so charts get their labels.
set -euo pipefail
if find /usr/share/fonts /usr/local/share/fonts -name '*.ttf' -print -quit 2>/dev/null | grep -q .; then exit 0; fi
echo "No TrueType font found: installing fonts-dejavu-core (chart labels)" >&2
sudo=""; if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
$sudo apt-get update -qq >/dev/null
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq fonts-dejavu-core >/dev/null
