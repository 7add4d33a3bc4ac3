#!/usr/bin/env bash
# Regenerates src/Runtime/PublicAPI.Unshipped.txt from the code: every public symbol of the runtime that
# PublicAPI.Shipped.txt does not list. Run it after a deliberate API change and review the diff: the build fails
# (RS0016/RS0017) whenever the code and the lists disagree, so an accidental public member shows in review.
set -euo pipefail
cd "$(dirname "$0")/.."
api=src/Runtime/PublicAPI.Unshipped.txt
log=$(mktemp)
trap 'rm -f "$log"' EXIT
printf '#nullable enable\n' > "$api"
if ! dotnet build src/Runtime -c Release --no-incremental -p:TreatWarningsAsErrors=false >"$log" 2>&1; then
  cat "$log"
  exit 1
fi
{ printf '#nullable enable\n'; grep RS0016 "$log" | sed -E "s/.*Symbol '(.*)' is not part of the declared public API.*/\1/" | LC_ALL=C sort -u; } > "$api"
echo "$api: $(($(wc -l < "$api") - 1)) public symbols"
git diff --stat -- "$api" || true
