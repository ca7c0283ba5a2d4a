#!/usr/bin/env bash
# The cost of debug mode on a service-like workload: throughput with AsyncLens debug mode off and on.
#
#   bench/service-overhead.sh [REPETITIONS] [harness options...]
#
# Builds bench/AsyncLens.Bench in Release, then runs REPETITIONS (default 5) triples of fresh
# processes, interleaved: debug off, debug on, the task inventory alone (AsyncDebug.TrackTasks, what
# `kill -USR1` needs; the order is reversed every other repetition).
# Each process serves simulated requests from 64 concurrent clients, first until the JIT has settled
# (at most 12 s), then for 5 timed rounds, and prints its median requests/s; the table shows the
# median of those per mode and the throughput lost to debug mode. BENCH_MODES="off on tasks console" adds the live
# console's agent started with no client (AsyncDebug.StartConsole(): the inventory and one thread in accept). Harness options (--concurrency N,
# --payload-kb N, --warmup-ms N (the warm-up's limit), --rounds N, --round-ms N) go to every run.
# Needs the .NET SDK and python3 (which prints the table); runs from any directory.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
source "$here/lib/common.sh"
parse_reps "[--concurrency N] [--payload-kb N] [--warmup-ms N] [--rounds N] [--round-ms N]" "${1:-}"
[[ $# -gt 0 ]] && shift
require_tools "it prints the table"
unset_debug_env

build_harness service

run() { # run MODE REP [options...]: one fresh process, its RESULT line appended to $results
    local mode="$1" rep="$2"
    shift 2
    local out="$logs/$mode.$rep.out"
    run_once "service $mode (repetition $rep)" "$out" "$logs/$mode.$rep.err" dotnet "$dll" service "$mode" "$@"
    record "rep=$rep" "$out" rps "$mode"
}

# shellcheck disable=SC2086
interleave "median requests/s" ${BENCH_MODES:-off on tasks} -- "$@"

# -B: importing bench/lib/results.py must not leave a __pycache__ in the source tree.
python3 -B - "$here/lib" "$results" "$logs" <<'PY'
import sys

sys.path.insert(0, sys.argv[1])
from results import load_runs

results, logs = sys.argv[2], sys.argv[3]
rows = load_runs(results, "mode")
column, med = rows.column, rows.median

first = rows["off"][0]
runs = len(rows["off"])
print()
print(f"service workload: {first['concurrency']} concurrent simulated requests, payload {first['payload_kb']} KB, "
      f"{first['rounds']} x {int(first['round_ms']) / 1000:g} s rounds after the JIT settles; {runs} fresh processes per row (medians)")
print(f"{'':27} {'req/s':>8} {'min..max of runs':>18} {'CPU µs/req':>11} {'GC pause %':>11} {'max step ms':>12} "
      f"{'warm-up s':>10} {'unsettled':>10} {'reports':>8}")
labels = {"off": "normal", "on": "debug (AsyncDebug.Enable)", "tasks": "task inventory (TrackTasks)", "console": "console agent, no client"}
for mode, label in ((m, l) for m, l in labels.items() if m in rows):
    values = column(mode, "rps")
    spread = f"{min(values):.0f}..{max(values):.0f}"
    reports = rows.total(mode, "reports") if mode == "on" else "-"
    unsettled = rows.unsettled(mode)
    print(f"{label:27} {med(mode, 'rps'):8.0f} {spread:>18} {med(mode, 'cpu_us_per_req'):11.1f} "
          f"{med(mode, 'gc_pause_pct'):11.1f} {max(column(mode, 'max_step_ms')):12.1f} {med(mode, 'warmup_s'):10.1f} "
          f"{unsettled:>10} {reports:>8}")

throughput = med("on", "rps") / med("off", "rps")
cpu = med("on", "cpu_us_per_req") / med("off", "cpu_us_per_req")
paired = rows.paired("on", "off", "rps")
tasks_throughput = med("tasks", "rps") / med("off", "rps")
tasks_cpu = med("tasks", "cpu_us_per_req") / med("off", "cpu_us_per_req")
print()
print(f"throughput debug/normal = {throughput:.2f}x ({(throughput - 1) * 100:+.0f}% requests/s)   "
      f"CPU per request debug/normal = {cpu:.2f}x ({(cpu - 1) * 100:+.0f}%)")
print(f"throughput inventory/normal = {tasks_throughput:.2f}x ({(tasks_throughput - 1) * 100:+.0f}% requests/s)   "
      f"CPU per request inventory/normal = {tasks_cpu:.2f}x ({(tasks_cpu - 1) * 100:+.0f}%)")
print(f"(same-repetition throughput ratios: {min(paired):.2f}x..{max(paired):.2f}x; max step ms = longest single "
      "request deserialization in any run; warm-up s = time until tiered JIT stopped compiling; unsettled = runs whose warm-up hit its limit first)")
if "console" in rows:
    agent_throughput = med("console", "rps") / med("tasks", "rps")
    agent_cpu = med("console", "cpu_us_per_req") / med("tasks", "cpu_us_per_req")
    print(f"throughput console/inventory = {agent_throughput:.2f}x ({(agent_throughput - 1) * 100:+.0f}% requests/s)   "
          f"CPU per request console/inventory = {agent_cpu:.2f}x ({(agent_cpu - 1) * 100:+.0f}%)")
reported = rows.total("on", "reports")
if reported:
    print(f"\nWARNING: debug mode made {reported} report(s) on this healthy workload; see {logs}/on.*.err")
print(f"raw results and logs: {logs}")
PY
