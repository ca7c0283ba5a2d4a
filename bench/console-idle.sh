#!/usr/bin/env bash
# The live console's agent when nobody uses it, and while a client watches as `asynclens top` does, against the same
# service without it.
#
#   bench/console-idle.sh [REPETITIONS] [harness options...]
#
# Builds bench/AsyncLens.Bench in Release, then runs REPETITIONS (default 5) rounds of four fresh processes of the service
# workload (64 concurrent simulated requests), interleaved: no AsyncLens; the task inventory alone
# (AsyncDebug.TrackTasks); the inventory and the console's agent, no client (AsyncDebug.StartConsole); the same with
# bench/python/console_poller.py connected, sending `ps` and `pool` once a second as top does. Each prints its median
# requests/s and CPU µs per request (every thread of the process: the agent's too; the poller's own CPU is its process's).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
source "$here/lib/common.sh"
parse_reps "[--concurrency N] [--payload-kb N] [--warmup-ms N] [--rounds N] [--round-ms N]" "${1:-}"
[[ $# -gt 0 ]] && shift
require_tools "it prints the table"
unset_debug_env ASYNCLENS_CONSOLE ASYNCLENS_CONSOLE_HISTORY

build_harness console-idle

run() { # run MODE REP [options...]
    local mode="$1" rep="$2" poller=""
    shift 2
    local out="$logs/$mode.$rep.out" err="$logs/$mode.$rep.err"
    if [[ "$mode" == console-top ]]; then
        : >"$err"
        python3 "$here/python/console_poller.py" "$err" 2>"$logs/poller.$rep.err" &
        poller=$!
        run_once "service $mode (repetition $rep)" "$out" "$err" dotnet "$dll" service console "$@"
        wait "$poller" || fail "the poller failed" "$logs/poller.$rep.err"
        sed -i "s/ mode=console / mode=console-top /" "$out"
    else
        run_once "service $mode (repetition $rep)" "$out" "$err" dotnet "$dll" service "$mode" "$@"
    fi
    record "rep=$rep" "$out" cpu_us_per_req "$mode"
}

interleave "CPU µs/request" off tasks console console-top -- "$@"

python3 -B - "$here/lib" "$results" "$logs" <<'PY'
import sys

sys.path.insert(0, sys.argv[1])
from results import load_runs

results, logs = sys.argv[2], sys.argv[3]
rows = load_runs(results, "mode")
med = rows.median
labels = {"off": "normal", "tasks": "task inventory (TrackTasks)", "console": "console agent, no client",
          "console-top": "console, a top-like client"}
print()
print(f"service workload; {len(rows['off'])} fresh processes per row (medians)")
print(f"{'':28} {'req/s':>8} {'min..max of runs':>18} {'CPU µs/req':>11} {'min..max':>14}")
for mode, label in labels.items():
    rps, cpu = rows.column(mode, "rps"), rows.column(mode, "cpu_us_per_req")
    print(f"{label:28} {med(mode, 'rps'):8.0f} {min(rps):>8.0f}..{max(rps):<8.0f} {med(mode, 'cpu_us_per_req'):11.1f} "
          f"{min(cpu):>6.1f}..{max(cpu):<6.1f}")
print()
for mode in ("tasks", "console", "console-top"):
    paired = rows.paired(mode, "off", "cpu_us_per_req")
    print(f"CPU per request {mode}/normal = {med(mode, 'cpu_us_per_req') / med('off', 'cpu_us_per_req'):.3f}x "
          f"(same-repetition {min(paired):.3f}x..{max(paired):.3f}x); throughput {med(mode, 'rps') / med('off', 'rps'):.3f}x")
paired = rows.paired("console", "tasks", "cpu_us_per_req")
print(f"CPU per request console/inventory = {med('console', 'cpu_us_per_req') / med('tasks', 'cpu_us_per_req'):.3f}x "
      f"(same-repetition {min(paired):.3f}x..{max(paired):.3f}x)")
print(f"raw results and logs: {logs}")
PY
