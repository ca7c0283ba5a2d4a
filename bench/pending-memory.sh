#!/usr/bin/env bash
# A million pending tasks: what debug mode and the task inventory cost to create them, to hold them, and to complete them.
#
#   bench/pending-memory.sh [REPETITIONS] [--tasks N] [--idle-s N]
#
# Builds bench/AsyncLens.Bench in Release, then runs REPETITIONS (default 3) fresh processes per mode, interleaved:
# off, debug mode on (AsyncDebug.Enable), the task inventory alone (AsyncDebug.TrackTasks). Each creates N async
# methods (default 1,000,000) parked on one gate, idles --idle-s seconds (default 5: the inventory's once-a-second
# sweeps run meanwhile), then opens the gate. The table shows medians side by side: seconds to create them, the
# managed heap after a full GC and the resident memory right after, the same after idling, seconds to complete them,
# and the peak resident memory. Needs the .NET SDK and python3 (which prints the table); runs from any directory.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
source "$here/lib/common.sh"
parse_reps "[--tasks N] [--idle-s N]" "${1:-3}"
[[ $# -gt 0 ]] && shift
require_tools "it prints the table"
unset_debug_env

build_harness pending

run() { # run MODE REP [options...]
    local mode="$1" rep="$2"
    shift 2
    local out="$logs/$mode.$rep.out"
    run_once "pending $mode (repetition $rep)" "$out" "$logs/$mode.$rep.err" dotnet "$dll" pending "$mode" "$@"
    record "rep=$rep" "$out" create_s "$mode create s"
}

interleave "pending tasks" off on tasks -- "$@"

python3 -B - "$here/lib" "$results" "$logs" <<'PY'
import sys

sys.path.insert(0, sys.argv[1])
from results import load_runs

results, logs = sys.argv[2], sys.argv[3]
rows = load_runs(results, "mode")
first = rows["off"][0]
print()
print(f"{first['tasks']} pending async methods, {len(rows['off'])} fresh processes per mode (medians); idle {first['idle_s']} s")
columns = [("create s", "create_s", "{:.2f}"), ("heap MB", "heap_mb", "{:.0f}"), ("RSS MB", "rss_mb", "{:.0f}"),
           ("idle heap MB", "idle_heap_mb", "{:.0f}"), ("idle RSS MB", "idle_rss_mb", "{:.0f}"),
           ("complete s", "complete_s", "{:.2f}"), ("peak RSS MB", "peak_rss_mb", "{:.0f}")]
print(f"{'mode':<28}" + "".join(f"{title:>14}" for title, _, _ in columns))
for mode, label in (("off", "normal"), ("on", "debug mode"), ("tasks", "task inventory alone")):
    print(f"{label:<28}" + "".join(f"{fmt.format(rows.median(mode, key)):>14}" for _, key, fmt in columns))
print(f"\nreports during the runs: {rows.total('on', 'reports')} (a healthy workload: should be 0)")
print(f"runs kept in {logs}")
PY
