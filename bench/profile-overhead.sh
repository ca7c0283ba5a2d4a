#!/usr/bin/env bash
# The cost of the async profiler, .NET (asynclens profile) next to Python (yappi in wall-clock mode).
#
#   bench/profile-overhead.sh [REPETITIONS] [harness options...]
#
# Two shapes, the same in both languages: `await` (AsyncLens.Bench's await micro-benchmark: Mid awaits Leaf, Leaf
# yields; nothing else) and `work` (Request awaits Parse and Store, each yields, and three steps hash 16 KB with
# SHA-256: OpenSSL's in both). For each shape, REPETITIONS (default 5) rounds of five fresh processes, interleaved:
# .NET normal; .NET under `asynclens profile -o FILE -- dotnet ...` (the startup hook, in process); .NET under
# `asynclens profile --pid PID -o FILE` (EventPipe from outside, attached before the warm-up); asyncio normal;
# asyncio with yappi (set_clock_type("wall"), started before the loop). Each prints its median µs per iteration
# over 10 rounds; the table has the median per row and the slowdown ratios side by side.
# On .NET 11 (DOTNET11_ROOT, default /work/dotnet11; skipped when it is not there): .NET normal; `asynclens profile`
# on the TPL events (as on .NET 10); `asynclens profile` on .NET 11's async events (ASYNCLENS_STEP_SOURCE=async-events-only).
# VARIANTS="await-net-off await-net11-off ..." runs only those rows.
# Needs the .NET SDK and yappi for python3 (Debian: apt-get install python3-yappi, for /usr/bin/python3; the same
# interpreter runs the normal asyncio rows). Harness options (--warmup-ms N, --rounds N, --round-ms N) go to every run.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
source "$here/lib/common.sh"
parse_reps "[--warmup-ms N] [--rounds N] [--round-ms N]" "${1:-}"
[[ $# -gt 0 ]] && shift
require_tools "yappi runs under it"
unset_debug_env ASYNCLENS_PROFILE ASYNCLENS_PROFILE_OUTPUT ASYNCLENS_PROFILE_FORMAT ASYNCLENS_PROFILE_DURATION_MS \
    ASYNCLENS_PROFILE_FRAMEWORK ASYNCLENS_PROFILE_PACKAGES PYTHONASYNCIODEBUG PYTHONDEVMODE PYTHONTRACEMALLOC

python=""
for candidate in python3 /usr/bin/python3; do
    if command -v "$candidate" >/dev/null && "$candidate" -c "import yappi" 2>/dev/null; then
        python="$candidate"
        break
    fi
done
[[ -n "$python" ]] || { echo "$0: yappi is not installed for python3 nor /usr/bin/python3 (Debian: apt-get install python3-yappi)" >&2; exit 1; }

net11="${DOTNET11_ROOT:-/work/dotnet11}"
has_net11=0
[[ -x "$net11/dotnet" && -d "$net11/shared/Microsoft.NETCore.App/11.0.0" ]] && has_net11=1

build_harness profile
echo "building src/AsyncLens.Cli (Release)..." >&2
build_release "$logs/build.log" "$root/src/AsyncLens.Cli/AsyncLens.Cli.csproj"
cli="$root/artifacts/bin/AsyncLens.Cli/release/asynclens.dll"
py="$here/python/asyncio_await.py"

wait_for() { # wait_for FILE PATTERN WHAT: until FILE has a line matching PATTERN (60 s at most)
    local i
    for ((i = 0; i < 1200; i++)); do
        grep -q "$2" "$1" 2>/dev/null && return 0
        sleep 0.05
    done
    fail "$3 did not happen within 60 s" "$1"
}

# The leaf's calls as the profile counts them (every call should be there) and the events asynclens said were dropped.
profiled() { # profiled PROFILE CLI_ERR SHAPE: prints "profiled_calls=N lost_events=N"
    local leaf="AwaitBenchmark.Leaf()" calls lost
    [[ "$3" == work ]] && leaf="AwaitBenchmark.Store()"
    calls="$(awk -v m="$leaf" '$1 == m { print $2; exit }' "$1")"
    lost="$(sed -n 's/.* dropped \([0-9,]*\) events.*/\1/p' "$2" | tr -d ,)"
    echo "profiled_calls=${calls:-0} lost_events=${lost:-0}"
}

run_pid() { # run_pid SHAPE OUT ERR PROFILE CLI_ERR [options...]: the harness, and asynclens profile --pid attached before it starts
    local shape="$1" out="$2" err="$3" profile="$4" cli_err="$5" fifo target profiler
    shift 5
    fifo="$logs/stdin.$$.fifo"
    rm -f "$fifo" && mkfifo "$fifo"
    dotnet "$dll" "$shape" off --wait-for-attach 1 "$@" <"$fifo" >"$out" 2>"$err" &
    target=$!
    exec 8>"$fifo"
    wait_for "$out" '^ready ' "the harness's ready line"
    dotnet "$cli" profile --pid "$(sed -n 's/^ready //p' "$out")" -o "$profile" 2>"$cli_err" &
    profiler=$!
    wait_for "$cli_err" '^asynclens: profiling process' "asynclens profile --pid's start"
    echo go >&8
    exec 8>&-
    rm -f "$fifo"
    wait "$target" || fail "the harness under asynclens profile --pid failed" "$out" "$err"
    # The harness exits first: asynclens writes the profile and says so with exit code 2.
    wait "$profiler" || [[ $? == 2 ]] || fail "asynclens profile --pid failed" "$cli_err"
    grep -q '^asynclens: profile of ' "$cli_err" || fail "asynclens profile --pid wrote no profile" "$cli_err"
}

run() { # run VARIANT REP [options...]: one fresh process (two for --pid), its RESULT line appended to $results
    local variant="$1" rep="$2" shape="${1%%-*}" extra=""
    shift 2
    local out="$logs/$variant.$rep.out" err="$logs/$variant.$rep.err" profile="$logs/$variant.$rep.profile.txt" cli_err="$logs/$variant.$rep.cli.err"
    case "${variant#*-}" in
        net-off) run_once "$variant (repetition $rep)" "$out" "$err" dotnet "$dll" "$shape" off "$@" ;;
        net-hook)
            run_once "$variant (repetition $rep)" "$out" "$err" dotnet "$cli" profile -o "$profile" -- dotnet "$dll" "$shape" off "$@"
            extra="$(profiled "$profile" "$err" "$shape")" ;;
        net-pid)
            run_pid "$shape" "$out" "$err" "$profile" "$cli_err" "$@"
            extra="$(profiled "$profile" "$cli_err" "$shape")" ;;
        net11-off) run_once "$variant (repetition $rep)" "$out" "$err" env DOTNET_ROOT="$net11" "$net11/dotnet" "$dll" "$shape" off "$@" ;;
        net11-hook | net11-events)
            local source=tpl
            [[ "$variant" == *-events ]] && source=async-events-only
            run_once "$variant (repetition $rep)" "$out" "$err" env DOTNET_ROOT="$net11" ASYNCLENS_STEP_SOURCE="$source" \
                "$net11/dotnet" "$cli" profile -o "$profile" -- "$net11/dotnet" "$dll" "$shape" off "$@"
            # The table's first line says the source: a run that silently took the other one measures nothing here.
            if [[ "$source" == tpl ]]; then
                head -1 "$profile" | grep -vq "async events" || fail "$variant was measured from the async events" "$profile"
            else
                head -1 "$profile" | grep -q ", from .NET 11's async events$" || fail "$variant was not measured from the async events" "$profile" "$err"
            fi
            extra="$(profiled "$profile" "$err" "$shape")" ;;
        py-off) run_once "$variant (repetition $rep)" "$out" "$err" "$python" "$py" --workload "$shape" --mode off "$@" ;;
        py-yappi) run_once "$variant (repetition $rep)" "$out" "$err" "$python" "$py" --workload "$shape" --mode yappi "$@" ;;
    esac
    record "variant=$variant rep=$rep $extra" "$out" median_us "$variant"
}

all_variants="await-net-off await-net-hook await-net-pid await-py-off await-py-yappi"
((has_net11)) && all_variants+=" await-net11-off await-net11-hook await-net11-events"
all_variants+=" work-net-off work-net-hook work-net-pid work-py-off work-py-yappi"
((has_net11)) && all_variants+=" work-net11-off work-net11-hook work-net11-events"
read -ra variants <<<"${VARIANTS:-$all_variants}"
interleave "median µs/iter" "${variants[@]}" -- "$@"

# -B: importing bench/lib/results.py must not leave a __pycache__ in the source tree.
python3 -B - "$here/lib" "$results" "$logs" <<'PY'
import sys

sys.path.insert(0, sys.argv[1])
from results import load_runs

results, logs = sys.argv[2], sys.argv[3]
rows = load_runs(results, "variant")
labels = {
    "net-off": ".NET     normal",
    "net-hook": ".NET     asynclens profile (startup hook)",
    "net-pid": ".NET     asynclens profile --pid (EventPipe)",
    "net11-off": ".NET 11  normal",
    "net11-hook": ".NET 11  asynclens profile (TPL events)",
    "net11-events": ".NET 11  asynclens profile (async events)",
    "py-off": "asyncio  normal",
    "py-yappi": "asyncio  yappi (wall clock)",
}
shapes = {
    "await": "await: µs per `await Mid()` (Mid awaits Leaf, Leaf yields: 2 async calls, 1 suspension)",
    "work": "work: µs per `await Request()` (3 async calls, 2 suspensions, SHA-256 of 16 KB in 3 steps)",
}
runs = max(len(runs_of) for runs_of in rows.values())
print()
print(f"profiler overhead, {runs} fresh processes per row (medians)")
for shape, title in shapes.items():
    if not any(v.startswith(shape + "-") for v in rows):
        continue
    print()
    print(title)
    print(f"{'':45} {'median':>8} {'min..max of runs':>18} {'best round':>11} {'calls seen':>11} {'lost events':>12}")
    for suffix, label in labels.items():
        variant = f"{shape}-{suffix}"
        if variant not in rows:
            continue
        values = rows.column(variant, "median_us")
        seen, lost = "-", "-"
        if suffix in ("net-hook", "net-pid", "net11-hook", "net11-events"):
            seen = f"{min(float(r['profiled_calls']) / float(r['total_iterations']) for r in rows[variant]) * 100:.0f}%"
            lost = str(rows.total(variant, "lost_events"))
        print(f"{label:45} {rows.median(variant, 'median_us'):8.2f} {min(values):8.2f}..{max(values):<8.2f} "
              f"{min(rows.column(variant, 'best_us')):11.2f} {seen:>11} {lost:>12}")

    def slowdown(on, off):
        if f"{shape}-{on}" not in rows or f"{shape}-{off}" not in rows:
            return "-"
        ratio = rows.median(f"{shape}-{on}", "median_us") / rows.median(f"{shape}-{off}", "median_us")
        paired = rows.paired(f"{shape}-{on}", f"{shape}-{off}", "median_us")
        added = rows.median(f"{shape}-{on}", "median_us") - rows.median(f"{shape}-{off}", "median_us")
        return f"{ratio:.2f}x ({min(paired):.2f}x..{max(paired):.2f}x, {added:+.2f} µs)"

    print(f"slowdown (median ratio, same-repetition range, µs added per iteration):")
    print(f"  .NET asynclens profile (in process) {slowdown('net-hook', 'net-off')}")
    print(f"  .NET asynclens profile --pid        {slowdown('net-pid', 'net-off')}")
    print(f"  asyncio yappi (wall clock)          {slowdown('py-yappi', 'py-off')}")
    print(f"  .NET 11 asynclens profile (TPL)     {slowdown('net11-hook', 'net11-off')}")
    print(f"  .NET 11 asynclens profile (events)  {slowdown('net11-events', 'net11-off')}")
print()
print("calls seen: the leaf method's calls in the profile over the iterations run (warm-up included): the lowest run;")
print("lost events: events the process dropped before asynclens read them (--pid), all runs")
print(f"raw results and logs: {logs}")
PY
