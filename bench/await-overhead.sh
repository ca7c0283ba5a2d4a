#!/usr/bin/env bash
# The cost of debug mode on a bare await, .NET (AsyncLens) next to Python (asyncio debug=True).
#
#   bench/await-overhead.sh [REPETITIONS] [harness options...]
#
# Builds bench/AsyncLens.Bench in Release, then runs REPETITIONS (default 5) rounds of seven fresh
# processes, interleaved: .NET debug off, .NET debug on, .NET with the task inventory alone
# (AsyncDebug.TrackTasks, what `kill -USR1` needs), the runtime's two floors under any TPL-event
# engine (an EventListener ignoring debug mode's events; the TPL source on with no event raised),
# asyncio debug off, asyncio debug on (the order is reversed every other repetition). Each .NET process warms up until the JIT has settled
# (at most 8 s), Python for 1 s; then each prints its median µs per iteration over 10 rounds;
# the table shows the median of those per row, and the two ratios side by side.
# Harness options (--warmup-ms N, --rounds N, --round-ms N) go to both the .NET and Python runs.
# Needs only the .NET SDK and python3; runs from any directory.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
source "$here/lib/common.sh"
parse_reps "[--warmup-ms N] [--rounds N] [--round-ms N]" "${1:-}"
[[ $# -gt 0 ]] && shift
require_tools
unset_debug_env PYTHONASYNCIODEBUG PYTHONDEVMODE PYTHONTRACEMALLOC

build_harness await
py="$here/python/asyncio_await.py"

run() { # run VARIANT REP [options...]: one fresh process, its RESULT line appended to $results
    local variant="$1" rep="$2"
    shift 2
    local -a command
    case "$variant" in
        net-off) command=(dotnet "$dll" await off) ;;
        net-on) command=(dotnet "$dll" await on) ;;
        net-tasks) command=(dotnet "$dll" await tasks) ;;
        net-listener) command=(dotnet "$dll" await listener) ;;
        net-tpl-quiet) command=(dotnet "$dll" await tpl-quiet) ;;
        py-off) command=(python3 "$py" --mode off) ;;
        py-on) command=(python3 "$py" --mode on) ;;
    esac
    local out="$logs/$variant.$rep.out"
    run_once "$variant (repetition $rep)" "$out" "$logs/$variant.$rep.err" "${command[@]}" "$@"
    record "variant=$variant rep=$rep" "$out" median_us "$variant"
}

interleave "median µs/iter" net-off net-on net-tasks net-listener net-tpl-quiet py-off py-on -- "$@"

# -B: importing bench/lib/results.py must not leave a __pycache__ in the source tree.
python3 -B - "$here/lib" "$results" "$logs" <<'PY'
import sys

sys.path.insert(0, sys.argv[1])
from results import load_runs

results, logs = sys.argv[2], sys.argv[3]
rows = load_runs(results, "variant")

def ratio_range(on, off):
    paired = rows.paired(on, off, "median_us")
    return min(paired), max(paired)

labels = {
    "net-off": ".NET     normal",
    "net-on": ".NET     debug (AsyncDebug.Enable)",
    "net-tasks": ".NET     task inventory (TrackTasks)",
    "net-listener": ".NET     floor: TPL events, ignored",
    "net-tpl-quiet": ".NET     floor: TPL on, no events",
    "py-off": "asyncio  normal",
    "py-on": "asyncio  debug=True",
}
runs = len(rows["net-off"])
print()
print(f"await micro-benchmark: µs per `await Mid()` (Mid awaits Leaf, Leaf yields); {runs} fresh processes per row")
print(f"{'':36} {'median':>8} {'min..max of runs':>18} {'best round':>11} {'warm-up s':>10} {'unsettled':>10} {'reports':>8}")
for variant, label in labels.items():
    values, median = rows.column(variant, "median_us"), rows.median(variant, "median_us")
    best = min(rows.column(variant, "best_us"))
    reports = rows.total(variant, "reports") if variant == "net-on" else None
    spread = f"{min(values):.2f}..{max(values):.2f}"
    warmup, unsettled = "-", "-"
    if variant.startswith("net"):
        warmup = f"{rows.median(variant, 'warmup_s'):.1f}"
        unsettled = rows.unsettled(variant)
    print(f"{label:36} {median:8.2f} {spread:>18} {best:11.2f} {warmup:>10} {unsettled:>10} "
          f"{'-' if reports is None else reports:>8}")

net = rows.median("net-on", "median_us") / rows.median("net-off", "median_us")
py = rows.median("py-on", "median_us") / rows.median("py-off", "median_us")
net_lo, net_hi = ratio_range("net-on", "net-off")
py_lo, py_hi = ratio_range("py-on", "py-off")
print()
tasks = rows.median("net-tasks", "median_us") / rows.median("net-off", "median_us")
tasks_lo, tasks_hi = ratio_range("net-tasks", "net-off")
print(f".NET debug/normal = {net:.1f}x   asyncio debug/normal = {py:.1f}x")
print(f".NET task inventory alone/normal = {tasks:.2f}x (same-repetition {tasks_lo:.2f}x..{tasks_hi:.2f}x), "
      f"{rows.median('net-tasks', 'median_us') - rows.median('net-off', 'median_us'):+.2f} µs per iteration (2 async methods, 3 awaits)")
for floor, what in (("net-listener", "the runtime delivering debug mode's TPL events to a listener that ignores them"),
                    ("net-tpl-quiet", "the TPL event source on with no event raised")):
    lo, hi = ratio_range(floor, "net-off")
    print(f".NET floor, {what}: {rows.median(floor, 'median_us') / rows.median('net-off', 'median_us'):.1f}x "
          f"(same-repetition {lo:.1f}x..{hi:.1f}x)")
def best_ratio(on, off):
    return min(rows.column(on, "best_us")) / min(rows.column(off, "best_us"))

print(f"(same-repetition ratios: .NET {net_lo:.1f}x..{net_hi:.1f}x, asyncio {py_lo:.1f}x..{py_hi:.1f}x; "
      f"best-round ratios: .NET {best_ratio('net-on', 'net-off'):.1f}x, asyncio {best_ratio('py-on', 'py-off'):.1f}x)")
reported = rows.total("net-on", "reports")
if reported:
    print(f"\nWARNING: debug mode made {reported} report(s) on this healthy workload; see {logs}/net-on.*.err")
print(f"raw results and logs: {logs}")
PY
