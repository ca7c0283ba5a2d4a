#!/usr/bin/env bash
# The live console's agent when nobody uses it, and while a client watches as `asynclens top` does, against the same
# service without it.
#
#   bench/console-idle.sh [REPETITIONS] [harness options...]
#
# Builds bench/AsyncLens.Bench in Release, then runs REPETITIONS (default 5) rounds of four fresh processes of the service
# workload (64 concurrent simulated requests), interleaved: no AsyncLens; the task inventory alone
# (AsyncDebug.TrackTasks); the inventory and the console's agent, no client (AsyncDebug.StartConsole); the same with
# bench/python/console_poller.py connected, asking once a second what top asks (`ps`, `pool`; BENCH_POLL=ps,pool,requests for
# what it asked before it read the requests' ages from ps). Each prints its median requests/s and CPU µs per request (every thread of the process: the agent's too; the
# poller's own CPU is its process's), the methods the JIT compiled during the timed rounds (a run whose JIT had not
# settled measures the JIT too), gen0 collections a second, and the CPU the agent's client thread spent per poll.
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
        python3 "$here/python/console_poller.py" "$err" ${BENCH_POLL:+--commands "$BENCH_POLL"} 2>"$logs/poller.$rep.err" &
        poller=$!
        run_once "service $mode (repetition $rep)" "$out" "$err" dotnet "$dll" service console "$@"
        wait "$poller" || fail "the poller failed" "$logs/poller.$rep.err"
        grep -q '^console_poller: polls=' "$logs/poller.$rep.err" || fail "the poller said nothing of the agent's CPU" "$logs/poller.$rep.err"
        sed -i "s/ mode=console / mode=console-top $(sed -n 's/^console_poller: \(polls=[^ ]* commands=[^ ]* agent_cpu_ms_per_poll=[^ ]*\).*/\1/p' "$logs/poller.$rep.err") /" "$out"
    else
        run_once "service $mode (repetition $rep)" "$out" "$err" dotnet "$dll" service "$mode" "$@"
    fi
    record "rep=$rep" "$out" cpu_us_per_req "$mode"
}

# shellcheck disable=SC2086
interleave "CPU µs/request" ${BENCH_MODES:-off tasks console console-top} -- "$@"

python3 -B - "$here/lib" "$results" "$logs" <<'PY'
import statistics
import sys

sys.path.insert(0, sys.argv[1])
from results import load_runs

results, logs = sys.argv[2], sys.argv[3]
rows = load_runs(results, "mode")
med = rows.median
labels = {"off": "normal", "tasks": "task inventory (TrackTasks)", "console": "console agent, no client",
          "console-top": "console, a top-like client"}
print()
print(f"service workload; {len(next(iter(rows.values())))} fresh processes per row (medians)")
print(f"{'':28} {'req/s':>8} {'min..max of runs':>18} {'CPU µs/req':>11} {'min..max':>14} {'jitted':>7} {'gen0/s':>7} {'unsettled':>9}")
for mode, label in labels.items():
    if mode not in rows:
        continue
    rps, cpu = rows.column(mode, "rps"), rows.column(mode, "cpu_us_per_req")
    print(f"{label:28} {med(mode, 'rps'):8.0f} {min(rps):>8.0f}..{max(rps):<8.0f} {med(mode, 'cpu_us_per_req'):11.1f} "
          f"{min(cpu):>6.1f}..{max(cpu):<6.1f} {med(mode, 'jitted_in_rounds'):7.0f} {med(mode, 'gen0_per_s'):7.1f} {rows.unsettled(mode):9}")
print("(jitted: methods compiled during the timed rounds; unsettled: runs whose warm-up ended before the JIT settled)")
top = rows["console-top"][0] if "console-top" in rows else None
agent = rows.column("console-top", "agent_cpu_ms_per_poll") if top else []
if top:
    print(f"the poller asked {top['commands']} each second; the agent's client thread spent {statistics.median(agent):.1f} ms of CPU "
          f"per poll (min..max {min(agent):.1f}..{max(agent):.1f}): {statistics.median(agent) * 1000 / med('console-top', 'rps'):.1f} µs "
          f"per request at the median req/s")
print()
for mode in ("tasks", "console", "console-top"):
    if mode not in rows or "off" not in rows:
        continue
    paired = rows.paired(mode, "off", "cpu_us_per_req")
    print(f"CPU per request {mode}/normal = {med(mode, 'cpu_us_per_req') / med('off', 'cpu_us_per_req'):.3f}x "
          f"(same-repetition {min(paired):.3f}x..{max(paired):.3f}x); throughput {med(mode, 'rps') / med('off', 'rps'):.3f}x")
if "console-top" in rows and "console" in rows:
    paired = rows.paired("console-top", "console", "cpu_us_per_req")
    print(f"CPU per request console-top/console = {med('console-top', 'cpu_us_per_req') / med('console', 'cpu_us_per_req'):.3f}x "
          f"({med('console-top', 'cpu_us_per_req') - med('console', 'cpu_us_per_req'):+.1f} µs; same-repetition {min(paired):.3f}x..{max(paired):.3f}x)")
paired = rows.paired("console", "tasks", "cpu_us_per_req") if "console" in rows and "tasks" in rows else None
if paired:
    print(f"CPU per request console/inventory = {med('console', 'cpu_us_per_req') / med('tasks', 'cpu_us_per_req'):.3f}x "
          f"(same-repetition {min(paired):.3f}x..{max(paired):.3f}x)")
print(f"raw results and logs: {logs}")
PY
