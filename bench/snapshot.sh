#!/usr/bin/env bash
# What a task dump costs at scale: a snapshot of ~100,000 pending tasks and its coalesced renders.
#
#   bench/snapshot.sh [REPETITIONS] [--tasks N] [--rounds N]
#
# Builds bench/AsyncLens.Bench in Release, then runs REPETITIONS (default 5) fresh processes. Each parks
# N requests (default 25,000; each a chain of async methods under Task.WhenAll, parked on gates, a
# semaphore or a delay: about 4 pending tasks per request, so ~104,000 listed by GetPendingTasks), switches the task inventory on
# (AsyncDebug.TrackTasks), and times, --rounds times (default 3): the snapshot alone (the graph),
# AsyncDebug.GetPendingTasks(), and AsyncDebug.WriteTasks in each format (snapshot + render, as
# kill -USR1 does). The table shows the medians next to the issue's target (snapshot + coalesced render
# of 100,000 pending tasks under 1 s) and the baseline: the same process enumerating the runtime's
# registry of those tasks without reading them.
# Needs the .NET SDK and python3 (which prints the table); runs from any directory.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
source "$here/lib/common.sh"
parse_reps "[--tasks N] [--rounds N]" "${1:-}"
[[ $# -gt 0 ]] && shift
require_tools "it prints the table"
unset_debug_env

build_harness snapshot

run() { # run VARIANT REP [options...]
    local variant="$1" rep="$2"
    shift 2
    local out="$logs/$variant.$rep.out"
    run_once "snapshot (repetition $rep)" "$out" "$logs/$variant.$rep.err" dotnet "$dll" snapshot off --tasks 25000 "$@"
    record "variant=$variant rep=$rep" "$out" stacks_ms "stacks ms"
}

interleave "snapshot + stacks render" snapshot -- "$@"

python3 -B - "$here/lib" "$results" "$logs" <<'PY'
import sys

sys.path.insert(0, sys.argv[1])
from results import load_runs

results, logs = sys.argv[2], sys.argv[3]
rows = load_runs(results, "variant")
med, column = rows.median, rows.column
first = rows["snapshot"][0]
runs = len(rows["snapshot"])
print()
print(f"task dump at scale: {first['tasks']} requests, {first['pending']} pending tasks from GetPendingTasks() (async methods, "
      f"delegate tasks, combinators; the awaited Task.Delay/TCS tasks are read too); {runs} fresh processes, "
      f"{first['rounds']} rounds each (medians)")
print(f"{'':46} {'median ms':>10} {'min..max of runs':>18}")
rows_out = [
    ("registry enumeration alone (baseline)", "registry_ms"),
    ("snapshot: the graph", "graph_ms"),
    ("GetPendingTasks() (snapshot + list)", "api_ms"),
    ("WriteTasks stacks (snapshot + render)", "stacks_ms"),
    ("WriteTasks tree (snapshot + render)", "tree_ms"),
    ("WriteTasks json (snapshot + render)", "json_ms"),
]
for label, key in rows_out:
    values = column("snapshot", key)
    print(f"{label:46} {med('snapshot', key):10.0f} {min(values):>8.0f}..{max(values):<8.0f}")
print()
target = max(med("snapshot", "stacks_ms"), med("snapshot", "tree_ms"))
print(f"snapshot + coalesced render (the slower of stacks and tree): {target:.0f} ms (target: under 1000 ms); "
      f"{target / med('snapshot', 'registry_ms'):.0f}x the registry enumeration")
print(f"json output {first['json_mb']} MB; allocated per operation (MB): {first['alloc_mb']}; "
      f"GC pause during all rounds: {med('snapshot', 'gc_pause_ms'):.0f} ms median")
print(f"heap retained after the rounds (after a full GC): {med('snapshot', 'heap_growth_mb'):.1f} MB "
      "(one-time: the inventory's tables; it does not grow with more dumps)")
print(f"raw results and logs: {logs}")
PY
