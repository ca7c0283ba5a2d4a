#!/usr/bin/env bash
# Missed reports of a seeded slow first step under load: tests/Targets/Bugs SCENARIO (parallel-first-step, the default, or all; a
# Parallel.ForEachAsync body's 0.25 s first step) run RUNS times on .NET 11 with the startup hook, in LOOPS loops side by
# side, with BUSY CPU burners (`yes`) alongside; prints how many runs had no full report of the body's first step
# (JSON with "firstStep":true), the load average, and keeps each missed run's output in a temporary directory.
#
#   bench/first-step-misses.sh [RUNS] [--loops N] [--busy N] [--runtime net10|net11] [--scenario NAME] [--build DIR]
#
# Uses the Debug builds the tests use (artifacts/bin/AsyncLens, artifacts/bin/Bugs: `dotnet build tests/AsyncLens.Tests`),
# or those of another checkout (--build DIR, its root: to compare a commit before). Not a test: nothing here asserts;
# the figures go to docs/dotnet11.md.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
runs=40 loops=3 busy=2 runtime=net11 scenario=parallel-first-step build="$root"
if [[ "${1:-}" =~ ^[0-9]+$ ]]; then runs="$1"; shift; fi
while [[ $# -gt 0 ]]; do
    case "$1" in
        --loops) [[ "${2:-}" =~ ^[1-9][0-9]*$ ]] || { echo "$0: --loops N" >&2; exit 2; }; loops="$2"; shift 2 ;;
        --busy) [[ "${2:-}" =~ ^[0-9]+$ ]] || { echo "$0: --busy N" >&2; exit 2; }; busy="$2"; shift 2 ;;
        --runtime) case "${2:-}" in net10 | net11) runtime="$2" ;; *) echo "$0: --runtime net10|net11" >&2; exit 2 ;; esac; shift 2 ;;
        --scenario) scenario="${2:?}"; shift 2 ;;
        --build) build="$(cd "${2:?}" && pwd)"; shift 2 ;;
        *) echo "usage: $0 [RUNS] [--loops N] [--busy N] [--runtime net10|net11] [--scenario NAME] [--build DIR]" >&2; exit 2 ;;
    esac
done
engine="$build/artifacts/bin/AsyncLens/debug/AsyncLens.Engine.dll"
bugs="$build/artifacts/bin/Bugs/debug/Bugs.dll"
for f in "$engine" "$bugs"; do
    [[ -f "$f" ]] || { echo "$0: $f is missing: dotnet build tests/AsyncLens.Tests first" >&2; exit 1; }
done
dotnet=dotnet
if [[ "$runtime" == net11 ]]; then
    net11="${ASYNCLENS_DOTNET11_ROOT:-/work/dotnet11}"
    [[ -f "$net11/.ready" ]] || "$root/tests/Net11/install-dotnet11.sh" "$net11" >&2
    export DOTNET_ROOT="$net11"
    dotnet="$net11/dotnet"
fi
unset ASYNCLENS_OUTPUT ASYNCLENS_SLOW_MS ASYNCLENS_STEP_SOURCE ASYNCLENS_TASKS
logs="$(mktemp -d "${TMPDIR:-/tmp}/asynclens-misses.XXXXXX")"
burners=()
stop_burners() { [[ ${#burners[@]} -eq 0 ]] || kill "${burners[@]}" 2>/dev/null || true; }
trap stop_burners EXIT
for _ in $(seq 1 "$busy"); do yes >/dev/null & burners+=($!); done

loop() { # loop ID: RUNS runs; writes the count of misses to $logs/ID.count
    local id="$1" miss=0 i out
    for i in $(seq 1 "$runs"); do
        out="$(DOTNET_STARTUP_HOOKS="$engine" ASYNCLENS_DEBUG=1 ASYNCLENS_FORMAT=json "$dotnet" "$bugs" "$scenario" 2>&1 >/dev/null || true)"
        if ! grep '"firstStep":true' <<<"$out" | grep -q '"method":"ParallelBody.ImportAsync(int, CancellationToken)"'; then
            miss=$((miss + 1))
            printf '%s\n' "$out" >"$logs/miss-$id-$i.txt"
        fi
    done
    echo "$miss" >"$logs/$id.count"
}
pids=()
for id in $(seq 1 "$loops"); do loop "$id" & pids+=($!); done
wait "${pids[@]}"
load="$(cut -d' ' -f1-3 /proc/loadavg)"
misses="$(cat "$logs"/*.count | paste -sd+ | bc)"
echo "$scenario on $runtime, $build: $misses missed of $((runs * loops)) runs ($loops loops side by side, $busy burners; load average $load)"
echo "missed runs' output: $logs"
