#!/usr/bin/env bash
# The cost of the console's history of ended tasks (ps-terminated) in debug mode, where every async method's end is
# captured on the app's thread (its awaiter chain read, one ring slot written).
#
#   bench/console-history.sh [REPETITIONS] [harness options...]
#
# Builds bench/AsyncLens.Bench in Release, then runs REPETITIONS (default 5) rounds of three fresh processes of the await
# micro-benchmark (2 async methods end per iteration), interleaved: debug mode without the console (AsyncDebug.Enable),
# debug mode and the console with its history off (ASYNCLENS_CONSOLE_HISTORY=0), debug mode and the console with its
# history (1000 kept, the default). BENCH_WORKLOAD=service runs the service workload instead (requests/s, CPU per request).
# Prints the medians and the ratios history/no history and history/no console. Then the capture alone, in one process
# (the `capture` workload: µs of CPU per capture of a 3-method chain's leaf), which a loaded machine blurs far less than
# the ratios above.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
source "$here/lib/common.sh"
parse_reps "[--warmup-ms N] [--rounds N] [--round-ms N]" "${1:-}"
[[ $# -gt 0 ]] && shift
require_tools "it prints the table"
unset_debug_env ASYNCLENS_CONSOLE ASYNCLENS_CONSOLE_HISTORY
workload="${BENCH_WORKLOAD:-await}"
case "$workload" in
    await) key=median_us ;;
    service) key=cpu_us_per_req ;;
    *) echo "$0: BENCH_WORKLOAD is await or service" >&2; exit 2 ;;
esac

build_harness console-history

run() { # run MODE REP [options...]
    local mode="$1" rep="$2"
    shift 2
    local out="$logs/$mode.$rep.out"
    run_once "$workload $mode (repetition $rep)" "$out" "$logs/$mode.$rep.err" dotnet "$dll" "$workload" "$mode" "$@"
    record "rep=$rep" "$out" "$key" "$mode"
}

interleave "$key" on on-console-nohistory on-console -- "$@"

python3 -B - "$here/lib" "$results" "$logs" "$workload" "$key" <<'PY'
import sys

sys.path.insert(0, sys.argv[1])
from results import load_runs

results, logs, workload, key = sys.argv[2:6]
rows = load_runs(results, "mode")
labels = {"on": "debug mode, no console", "on-console-nohistory": "debug + console, history off", "on-console": "debug + console, history on"}
unit = "µs per `await Mid()`" if workload == "await" else "CPU µs per request"
print()
print(f"{workload} workload, {unit}; {len(rows['on'])} fresh processes per row (medians)")
print(f"{'':32} {'median':>8} {'min..max of runs':>18} {'reports':>8}")
for mode, label in labels.items():
    values = rows.column(mode, key)
    print(f"{label:32} {rows.median(mode, key):8.2f} {min(values):>8.2f}..{max(values):<8.2f} {rows.total(mode, 'reports'):>8}")
history, quiet, none = (rows.median(m, key) for m in ("on-console", "on-console-nohistory", "on"))
paired = rows.paired("on-console", "on-console-nohistory", key)
print()
print(f"history on / history off = {history / quiet:.3f}x (same-repetition {min(paired):.3f}x..{max(paired):.3f}x), "
      f"{history - quiet:+.2f} µs{' per iteration (2 async methods end)' if workload == 'await' else ' per request'}")
print(f"history on / no console  = {history / none:.3f}x;  history off / no console = {quiet / none:.3f}x")
print(f"raw results and logs: {logs}")
PY

dotnet "$dll" capture off --rounds 10 >"$logs/capture.out" 2>"$logs/capture.err" || fail "the capture workload failed" "$logs/capture.out" "$logs/capture.err"
line="$(grep '^RESULT ' "$logs/capture.out")"
echo "the capture alone (one process, 10 rounds of 200,000, medians): $(sed -n 's/.*capture_cpu_us=\([^ ]*\).*/\1/p' <<<"$line") µs CPU, $(sed -n 's/.*capture_wall_us=\([^ ]*\).*/\1/p' <<<"$line") µs wall, best round $(sed -n 's/.*best_cpu_us=\([^ ]*\).*/\1/p' <<<"$line") µs CPU per capture"
echo "at 200,000 ends a sweep (one in $(sed -n 's/.*stride=\([^ ]*\).*/\1/p' <<<"$line") that ran to completion captured): $(sed -n 's/.*sampled_cpu_us=\([^ ]*\).*/\1/p' <<<"$line") µs CPU per end"
