#!/usr/bin/env bash
# The GPU device check (issue 8, item 9), in two modes.
#
#   scripts/device-check.sh prepare
#     Here, where .NET is: publishes tools/DeviceCheck trimmed and self-contained for linux-x64 and packs it, the
#     xla-corpus (../shared/xla-corpus, or $XLAGEN_CORPUS) and the four Fashion-MNIST .gz files
#     (/usr/share/datasets/fashion-mnist, or $FASHION_MNIST_DIR; scripts/ensure-dataset.sh installs them) into
#     out/device-check/bundle.tar.xz (git-ignored; must stay under 60 MiB, the device machine carries 64 MiB), then
#     prints the exact `run` tool call for the GPU machine: its command line and its carry list.
#
#   scripts/device-check.sh run
#     On the GPU machine (one NVIDIA GPU with JAX and jax-cuda13-pjrt, no .NET), from the repository root of the copy:
#     unpacks the bundle, finds the CUDA PJRT plugin with python3 (site-packages jax_plugins/xla_cuda13|xla_cuda12/
#     xla_cuda_plugin.so; $XLAGEN_PJRT_PLUGIN wins), prints nvidia-smi, runs the check with --device pjrt:PLUGIN
#     against the CPU executor under `timeout`, times the same MLP train step in JAX (scripts/jax_mlp_step.py), and
#     merges both into $OUT/device-check.json with our step time as a ratio to JAX's; logs go to $OUT too.
#     The whole run stays under 8 minutes ($DEVICE_CHECK_BUDGET seconds, default 450, split between the two parts).
#     Simulate it anywhere with DEVICE_CHECK_DEVICE=cpu (the CPU executor as the device; without JAX the JAX part is
#     recorded as "skipped: no jax"); without $OUT the results go to out/device-check/results.
#
# Exit code of run: 0 when every check passed, 1 when a check failed or a part could not run.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
folder="$repo/out/device-check"
bundle="$folder/bundle.tar.xz"
limit_mib=60

prepare() {
  local corpus="${XLAGEN_CORPUS:-$repo/../shared/xla-corpus}"
  if [ ! -d "$corpus/cases" ] || [ ! -d "$corpus/pb" ]; then
    echo "device-check prepare: no xla-corpus at $corpus (it needs cases/ and pb/): put ../shared/xla-corpus beside the repository or set XLAGEN_CORPUS" >&2
    exit 1
  fi
  "$repo/scripts/ensure-dataset.sh"
  local data="${FASHION_MNIST_DIR:-/usr/share/datasets/fashion-mnist}"
  local f
  for f in train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz t10k-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz; do
    [ -f "$data/$f" ] || { echo "device-check prepare: $data/$f is missing" >&2; exit 1; }
  done
  local stage
  stage="$(mktemp -d)"
  trap 'rm -rf "$stage"' RETURN
  echo "publishing tools/DeviceCheck (trimmed, self-contained, linux-x64)..."
  dotnet publish "$repo/tools/DeviceCheck/DeviceCheck.csproj" -c Release -o "$stage/device-check/app" -nologo -clp:ErrorsOnly
  mkdir -p "$stage/device-check/fashion-mnist"
  cp -r "$corpus" "$stage/device-check/xla-corpus"
  cp "$data"/*-ubyte.gz "$stage/device-check/fashion-mnist/"
  rm -rf "$folder"
  mkdir -p "$folder"
  echo "packing $bundle (xz: the device machine's python3 unpacks it even without an xz binary)..."
  tar -C "$stage" -cf - device-check | xz -T0 -6 > "$bundle"
  (cd "$folder" && sha256sum bundle.tar.xz > bundle.sha256)
  local bytes
  bytes=$(du -sb "$folder" | cut -f1)
  local mib=$(( (bytes + 1048575) / 1048576 ))
  echo "app $(du -sh "$stage/device-check/app" | cut -f1) unpacked; $folder holds $bytes bytes ($mib MiB) in all"
  if [ "$mib" -gt "$limit_mib" ]; then
    echo "device-check prepare: $folder is $mib MiB, over the $limit_mib MiB allowed (the device machine carries 64 MiB)" >&2
    exit 1
  fi
  git -C "$repo" check-ignore -q "$folder" || { echo "device-check prepare: $folder is not git-ignored" >&2; exit 1; }
  # The device machine receives the tracked files, the untracked ones git does not ignore, and the carried folder: 64 MiB in all.
  local tree
  tree=$( (cd "$repo" && git ls-files -z --cached --others --exclude-standard | xargs -0 du -cb 2>/dev/null | awk '$2 == "total" { s += $1 } END { print s + 0 }') )
  echo "working tree that travels with it: $(( (tree + 1048575) / 1048576 )) MiB; with the bundle $(( (tree + bytes + 1048575) / 1048576 )) MiB of the 64 allowed"
  if [ $(( tree + bytes )) -gt $(( 63 * 1048576 )) ]; then
    echo "device-check prepare: the working tree and the bundle together exceed what the device machine accepts" >&2
    exit 1
  fi
  cat <<CALL

Ready. On a session that has a GPU machine, call the device tool's run with:
  command:   scripts/device-check.sh run
  carry:     ["out/device-check"]
  timeout_s: 540
from the checkout of the session that makes the call (the tool sends that checkout, not a helper's worktree).
It needs about 8 minutes at most; the results come back in its files: device-check.json (both parts merged),
xlagen.json, device-check.log, jax.json, jax.log, nvidia-smi.txt.
CALL
}

find_plugin() {
  if [ -n "${XLAGEN_PJRT_PLUGIN:-}" ]; then
    [ -f "$XLAGEN_PJRT_PLUGIN" ] || { echo "XLAGEN_PJRT_PLUGIN=$XLAGEN_PJRT_PLUGIN: no such file" >&2; return 1; }
    echo "$XLAGEN_PJRT_PLUGIN"
    return 0
  fi
  python3 - <<'PY'
import site, sys, os
roots = []
for r in site.getsitepackages() + [site.getusersitepackages()] + sys.path:
    if r and os.path.isdir(r) and r not in roots:
        roots.append(r)
for name in ("xla_cuda13", "xla_cuda12"):
    for r in roots:
        p = os.path.join(r, "jax_plugins", name, "xla_cuda_plugin.so")
        if os.path.isfile(p):
            print(p)
            sys.exit(0)
sys.exit("no jax_plugins/xla_cuda13|xla_cuda12/xla_cuda_plugin.so under " + ", ".join(roots))
PY
}

# The CUDA libraries of the nvidia-* wheels, which JAX preloads by full path and a PJRT client of ours finds on
# LD_LIBRARY_PATH instead.
nvidia_library_path() {
  python3 - <<'PY' || true
import site, sys, os, glob
dirs = []
for r in site.getsitepackages() + [site.getusersitepackages()] + sys.path:
    for d in sorted(glob.glob(os.path.join(r or ".", "nvidia", "*", "lib"))):
        if d not in dirs:
            dirs.append(d)
print(":".join(dirs))
PY
}

# Ends a run that cannot start, leaving the reason in $out/device-check.json too (it is what comes back from the machine).
fail_early() {
  echo "device-check run: $1" >&2
  python3 -c 'import json, sys; json.dump({"passed": False, "problems": [sys.argv[2]]}, open(sys.argv[1], "w"), indent=2)' \
    "$out/device-check.json" "$1" || true
  exit 1
}

run() {
  out="${OUT:-$folder/results}"
  mkdir -p "$out"
  local budget="${DEVICE_CHECK_BUDGET:-450}"
  local started=$SECONDS
  local work="${TMPDIR:-/tmp}/xlagen-device-check"
  [ -f "$bundle" ] || fail_early "$bundle is missing: run scripts/device-check.sh prepare first and carry out/device-check"
  rm -rf "$work"
  mkdir -p "$work"
  if command -v xz >/dev/null; then
    tar -C "$work" -xJf "$bundle" || fail_early "unpacking $bundle failed"
  else
    python3 -c 'import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2])' "$bundle" "$work" || fail_early "unpacking $bundle failed"
  fi
  local root="$work/device-check"
  chmod +x "$root/app/xlagen-device-check"

  local device="${DEVICE_CHECK_DEVICE:-}"
  if [ -z "$device" ]; then
    local plugin
    plugin="$(find_plugin 2>"$work/plugin-search.txt")" ||
      fail_early "no CUDA PJRT plugin: $(tr '\n' ' ' < "$work/plugin-search.txt")(set XLAGEN_PJRT_PLUGIN to the xla_cuda_plugin.so to use)"
    device="pjrt:$plugin"
    local libs
    libs="$(nvidia_library_path)"
    if [ -n "$libs" ]; then export LD_LIBRARY_PATH="$libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"; fi
  fi
  echo "device: $device"
  if command -v nvidia-smi >/dev/null; then nvidia-smi 2>&1 | tee "$out/nvidia-smi.txt" || true
  else echo "nvidia-smi: not on this machine" | tee "$out/nvidia-smi.txt"; fi

  # Ours gets the budget less what the JAX step timing needs (about a minute with its compile and start-up).
  local jax_seconds=90
  local ours_seconds=$(( budget - jax_seconds - (SECONDS - started) ))
  local ours_rc=0
  set +e
  timeout --kill-after=10 "$ours_seconds" "$root/app/xlagen-device-check" --device "$device" --reference cpu \
    --budget-seconds $(( ours_seconds - 20 )) \
    --corpus "$root/xla-corpus" --data "$root/fashion-mnist" --epochs 10 --out "$out/xlagen.json" 2>&1 | tee "$out/device-check.log"
  ours_rc=${PIPESTATUS[0]}
  set -e
  if [ "$ours_rc" -eq 124 ] || [ "$ours_rc" -eq 137 ]; then
    echo "device-check run: the check ran past its $ours_seconds s and was stopped; its report holds the parts it finished" | tee -a "$out/device-check.log"
  fi

  local jax_rc=0 jax_note=""
  if ! python3 -c 'import jax' 2>/dev/null; then
    # Simulating with the CPU as the device, a machine without JAX is expected; on the GPU machine it is a failure.
    if [ "$device" = "cpu" ]; then jax_note="skipped: no jax"; else jax_note="failed: python3 cannot import jax"; fi
  else
    local left=$(( budget - (SECONDS - started) ))
    [ "$left" -lt 30 ] && left=30
    set +e
    PYTHONUNBUFFERED=1 timeout --kill-after=10 "$left" python3 "$repo/scripts/jax_mlp_step.py" --data "$root/fashion-mnist" \
      --batch 128 --warmup 50 --steps 300 --out "$out/jax.json" > "$out/jax.log" 2>&1
    jax_rc=$?
    set -e
    cat "$out/jax.log"
    [ "$jax_rc" -eq 0 ] || jax_note="failed: jax_mlp_step.py exited with $jax_rc (see jax.log)"
  fi

  python3 - "$out" "$ours_rc" "$jax_note" "$device" <<'PY'
import json, os, sys
out, ours_rc, jax_note, device = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
def load(name):
    p = os.path.join(out, name)
    try:
        with open(p) as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        return {"error": f"{name}: {e}"}
ours = load("xlagen.json")
jax = {"skipped": jax_note[len("skipped: "):]} if jax_note.startswith("skipped: ") else ({"error": jax_note} if jax_note else load("jax.json"))
report = {"device": device, "xlagen": ours, "xlagen_exit_code": ours_rc, "jax": jax}
ours_ms = (ours.get("train_step") or {}).get("median_step_ms")
jax_ms = jax.get("median_step_ms")
if ours_ms and jax_ms:
    report["step_time_ratio_ours_over_jax"] = round(ours_ms / jax_ms, 4)
    report["step_time_note"] = "median train-step ms, batch 128, each step waited for, ours / JAX's (<= 1.0 means ours is as fast or faster)"
    ours_p = (ours.get("train_step") or {}).get("pipelined_step_ms")
    jax_p = jax.get("pipelined_step_ms")
    if ours_p and jax_p:
        report["pipelined_step_time_ratio_ours_over_jax"] = round(ours_p / jax_p, 4)
else:
    report["step_time_ratio_ours_over_jax"] = None
    report["step_time_note"] = "not computed: " + ("JAX part " + ("skipped: " + jax["skipped"] if "skipped" in jax else jax.get("error") or "gave no median") if not jax_ms else "our step timing gave no median")
problems = []
if ours_rc != 0:
    problems.append(f"xlagen-device-check exited with {ours_rc}" + (" (stopped by the time budget)" if ours_rc in (124, 137) else ""))
if ours.get("state") != "finished":
    problems.append("the xlagen report is incomplete: " + str(ours.get("error") or ours.get("state")))
problems += ["xlagen: " + f for f in ours.get("failures", [])]
if "error" in jax:
    problems.append("jax: " + jax["error"])
report["problems"] = problems
report["passed"] = not problems
with open(os.path.join(out, "device-check.json"), "w") as f:
    json.dump(report, f, indent=2)
print()
print("device-check:", "PASSED" if report["passed"] else "FAILED")
for p in problems:
    print("  " + p)
s = ours.get("train_step") or {}
t = ours.get("training") or {}
c = ours.get("conformance") or {}
k = ours.get("corpus") or {}
print(f"  conformance {c.get('passed')}/{c.get('cases')}, corpus {k.get('passed')}/{k.get('cases')}, "
      f"accuracy {t.get('test_accuracy')}, train samples/s {t.get('samples_per_s')}, "
      f"step median ms ours {ours_ms} / jax {jax_ms} -> ratio {report['step_time_ratio_ours_over_jax']}")
print("  report:", os.path.join(out, "device-check.json"))
sys.exit(0 if report["passed"] else 1)
PY
}

case "${1:-}" in
  prepare) prepare ;;
  run) run ;;
  *) echo "usage: scripts/device-check.sh prepare|run (see the top of this script)" >&2; exit 2 ;;
esac
