#!/usr/bin/env bash
# The cost of .NET 11's cheap async event source next to today's TPL-event engine, on the await micro-benchmark.
#
#   bench/async-events-overhead.sh [REPETITIONS] [harness options...]
#
# Builds bench/AsyncLens.Bench in Release (net10.0, RollForward=Major), then runs REPETITIONS (default 5) rounds of
# fresh processes, interleaved (reversed every other repetition):
#   on .NET 11 (DOTNET11_ROOT, default /work/dotnet11, laid out by net11's script: a dotnet host beside
#   shared/Microsoft.NETCore.App/11.0.0): nothing; AsyncProfilerEventSource with every keyword taken by an
#   EventListener that ignores the buffers (the source's floor); the same source decoded by AsyncLens's reader
#   (Tracking/AsyncEvents) into a sink keeping each thread's step; the TPL events debug mode uses, ignored (their
#   floor); the TPL source on with a keyword no await raises (what keeping TPL for what the new source lacks would
#   cost before any event is delivered); debug mode as it is today (AsyncDebug.Enable, on the TPL events); debug mode
#   with its steps from the async events (ASYNCLENS_STEP_SOURCE=async-events: the TPL events but the step brackets);
#   debug mode on the async events alone (ASYNCLENS_STEP_SOURCE=async-events-only: no TPL source, no task registry);
#   on .NET 10 (the SDK's runtime), for the figures beside them: nothing, and debug mode.
# Each process warms up until the JIT has settled (at most 8 s) and prints its median µs per iteration over 10 rounds;
# the table shows the median of those per row, the ratio to nothing on the same runtime, and the same-repetition range.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
source "$here/lib/common.sh"
parse_reps "[--warmup-ms N] [--rounds N] [--round-ms N]" "${1:-}"
[[ $# -gt 0 ]] && shift
require_tools
unset_debug_env DOTNET_AsyncProfiler_EventBufferSize

net11="${DOTNET11_ROOT:-/work/dotnet11}"
[[ -x "$net11/dotnet" && -d "$net11/shared/Microsoft.NETCore.App/11.0.0" ]] \
    || { echo "$0: no .NET 11.0.0 runtime at $net11 (set DOTNET11_ROOT)" >&2; exit 1; }

build_harness async-events

run() { # run VARIANT REP [options...]: one fresh process, its RESULT line appended to $results
    local variant="$1" rep="$2" mode
    shift 2
    local -a command
    mode="${variant#net1?-}"
    case "$variant" in
        net11-on-events) command=(env ASYNCLENS_STEP_SOURCE=async-events DOTNET_ROOT="$net11" "$net11/dotnet" "$dll" await on) ;;
        net11-on-events-only) command=(env ASYNCLENS_STEP_SOURCE=async-events-only DOTNET_ROOT="$net11" "$net11/dotnet" "$dll" await on) ;;
        net11-*) command=(env DOTNET_ROOT="$net11" "$net11/dotnet" "$dll" await "$mode") ;;
        net10-*) command=(dotnet "$dll" await "$mode") ;;
    esac
    local out="$logs/$variant.$rep.out" err="$logs/$variant.$rep.err"
    run_once "$variant (repetition $rep)" "$out" "$err" "${command[@]}" "$@"
    local runtime
    runtime="$(sed -n 's/^runtime: //p' "$err")"
    case "$variant" in
        net11-*) [[ "$runtime" == ".NET 11."* ]] || fail "$variant ran on '$runtime'" "$err" ;;&
        net11-on-events) grep -q '^step source: AsyncEvents$' "$err" || fail "$variant did not take its steps from the async events" "$err" ;;
        net11-on-events-only) grep -q '^step source: AsyncEventsOnly$' "$err" || fail "$variant did not take its steps from the async events alone" "$err" ;;
        net10-*) [[ "$runtime" == ".NET 10."* ]] || fail "$variant ran on '$runtime'" "$err" ;;
    esac
    record "variant=$variant rep=$rep" "$out" median_us "$variant"
}

# VARIANTS="net11-off net11-on-events-only ..." runs only those rows (net11-off and net10-off, the bases, always);
# net11-async-events-ignored@0xMASK and net11-async-events@0xMASK take only the keywords in MASK (hex).
all_variants="net11-off net11-async-events-ignored net11-async-events net11-listener net11-tpl-quiet net11-on net11-on-events net11-on-events-only net10-off net10-on"
read -ra variants <<<"${VARIANTS:-$all_variants}"
[[ " ${variants[*]} " == *" net11-off "* ]] || variants=(net11-off "${variants[@]}")
[[ " ${variants[*]} " == *" net10-off "* ]] || variants+=(net10-off)
interleave "median µs/iter" "${variants[@]}" -- "$@"

python3 -B - "$here/lib" "$results" "$logs" <<'PY'
import sys

sys.path.insert(0, sys.argv[1])
from results import load_runs

results, logs = sys.argv[2], sys.argv[3]
rows = load_runs(results, "variant")
labels = {
    "net11-off": (".NET 11  nothing", "net11-off"),
    "net11-async-events-ignored": (".NET 11  async events, ignored", "net11-off"),
    "net11-async-events": (".NET 11  async events, decoded", "net11-off"),
    "net11-listener": (".NET 11  TPL events, ignored", "net11-off"),
    "net11-tpl-quiet": (".NET 11  TPL source on, no event", "net11-off"),
    "net11-on": (".NET 11  debug mode (TPL events)", "net11-off"),
    "net11-on-events": (".NET 11  debug mode (async events)", "net11-off"),
    "net11-on-events-only": (".NET 11  debug mode (async events alone)", "net11-off"),
    "net10-off": (".NET 10  nothing", "net10-off"),
    "net10-on": (".NET 10  debug mode (TPL events)", "net10-off"),
}
runs = len(rows["net11-off"])
print()
print(f"await micro-benchmark: µs per `await Mid()` (Mid awaits Leaf, Leaf yields); {runs} fresh processes per row")
print(f"{'':42} {'median':>8} {'min..max of runs':>18} {'ratio':>7} {'same-rep ratios':>16} {'unsettled':>10}")
# A variant with keywords of its own (net11-async-events-ignored@0x3FC00) is labelled by them, after the named rows.
masked = [v for v in rows if v not in labels and "@" in v]
for variant in masked:
    name, mask = variant.split("@", 1)
    labels[variant] = (f"{labels[name][0]} {mask}", labels[name][1])
for variant, (label, base) in labels.items():
    if variant not in rows:
        continue
    values, median = rows.column(variant, "median_us"), rows.median(variant, "median_us")
    paired = rows.paired(variant, base, "median_us")
    ratio = median / rows.median(base, "median_us")
    print(f"{label:42} {median:8.2f} {min(values):8.2f}..{max(values):<8.2f} {ratio:6.2f}x "
          f"{min(paired):7.2f}..{max(paired):<7.2f} {rows.unsettled(variant):>10}")
if "net11-async-events" in rows and "net11-async-events-ignored" in rows:
    decoded = rows.median("net11-async-events", "median_us") - rows.median("net11-async-events-ignored", "median_us")
    print(f"\ndecoding (decoded - ignored, .NET 11): {decoded:+.2f} µs per iteration (~9 events)")
print(f"raw results and logs: {logs}")
PY
