#!/usr/bin/env bash
# A change to the async events' decoding or to debug mode on them, measured side by side with the commit before it.
#
#   bench/async-events-before-after.sh BEFORE_COMMIT [REPETITIONS]
#
# Builds bench/AsyncLens.Bench in Release at BEFORE_COMMIT (a detached worktree in a temporary directory) and at the
# working tree, then runs REPETITIONS (default 5) rounds of fresh processes on .NET 11 (DOTNET11_ROOT, default
# /work/dotnet11), the two builds in alternating order (reversed every other repetition), for each of: nothing (`await
# off`: no engine loaded, the base), the async events decoded into steps (`await async-events`), and debug mode on the
# async events alone (ASYNCLENS_STEP_SOURCE=async-events-only, `await on`). Prints each row's median µs per iteration
# (each process's median over its rounds), its ratio to nothing (the two builds' nothing averaged per repetition: the
# same code), and after/before in the same repetition: the machine's load moves both alike.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
source "$here/lib/common.sh"
before="${1:-}"
[[ -n "$before" ]] && git -C "$root" rev-parse --verify -q "$before^{commit}" >/dev/null \
    || { echo "usage: $0 BEFORE_COMMIT [REPETITIONS]" >&2; exit 2; }
parse_reps "" "${2:-}"
require_tools
unset_debug_env DOTNET_AsyncProfiler_EventBufferSize
net11="${DOTNET11_ROOT:-/work/dotnet11}"
[[ -x "$net11/dotnet" && -d "$net11/shared/Microsoft.NETCore.App/11.0.0" ]] \
    || { echo "$0: no .NET 11.0.0 runtime at $net11 (set DOTNET11_ROOT)" >&2; exit 1; }

logs="$(mktemp -d "${TMPDIR:-/tmp}/asynclens-before-after.XXXXXX")"
tree="$logs/before-tree"
trap 'git -C "$root" worktree remove --force "$tree" >/dev/null 2>&1 || true' EXIT
git -C "$root" worktree add --detach "$tree" "$before" >/dev/null 2>&1
echo "building bench/AsyncLens.Bench (Release) at $before and at the working tree..." >&2
build_release "$logs/build.log" "$tree/bench/AsyncLens.Bench/AsyncLens.Bench.csproj" "$here/AsyncLens.Bench/AsyncLens.Bench.csproj"
cp -r "$tree/artifacts/bin/AsyncLens.Bench/release" "$logs/before"
cp -r "$root/artifacts/bin/AsyncLens.Bench/release" "$logs/after"

results="$logs/results.txt"
: >"$results"
for ((rep = 1; rep <= reps; rep++)); do
    builds=(before after)
    ((rep % 2)) || builds=(after before)
    for mode in off async-events events-only; do
        for build in "${builds[@]}"; do
            out="$logs/$mode.$build.$rep.out" err="$logs/$mode.$build.$rep.err"
            case "$mode" in
                events-only) run_once "$mode $build ($rep)" "$out" "$err" env ASYNCLENS_STEP_SOURCE=async-events-only DOTNET_ROOT="$net11" "$net11/dotnet" "$logs/$build/AsyncLens.Bench.dll" await on
                    grep -q '^step source: AsyncEventsOnly$' "$err" || fail "$mode $build did not take its steps from the async events alone" "$err" ;;
                *) run_once "$mode $build ($rep)" "$out" "$err" env DOTNET_ROOT="$net11" "$net11/dotnet" "$logs/$build/AsyncLens.Bench.dll" await "$mode" ;;
            esac
            median="$(sed -n 's/^RESULT .*median_us=\([0-9.]*\).*/\1/p' "$out" | tail -1)"
            [[ -n "$median" ]] || fail "$mode $build printed no RESULT" "$out" "$err"
            echo "$mode $build $rep $median $(cut -d' ' -f1 /proc/loadavg)" | tee -a "$results" >&2
        done
    done
done

python3 -B - "$results" <<'PY'
import statistics as st
import sys

d, loads = {}, []
for line in open(sys.argv[1]):
    mode, build, rep, median, load = line.split()
    d.setdefault((mode, build), {})[int(rep)] = float(median)
    loads.append(float(load))
reps = sorted(d[("off", "before")])
off = {r: (d[("off", "before")][r] + d[("off", "after")][r]) / 2 for r in reps}
print(f"median µs/iteration, {len(reps)} repetitions, load average {min(loads):.0f}-{max(loads):.0f}")
print(f"{'row':<40} {'before':>8} {'after':>8} {'ratio before':>13} {'ratio after':>12} {'after/before':>13} {'range':>12} {'after faster':>13}")
print(f"{'nothing (await off)':<40} {st.median(d[('off', 'before')].values()):8.3f} {st.median(d[('off', 'after')].values()):8.3f}")
for mode, label in (("async-events", "async events decoded (await async-events)"), ("events-only", "debug mode, async events alone")):
    b, a = d[(mode, "before")], d[(mode, "after")]
    same = sorted(a[r] / b[r] for r in reps)
    print(f"{label:<40} {st.median(b.values()):8.3f} {st.median(a.values()):8.3f} "
          f"{st.median(b[r] / off[r] for r in reps):12.2f}x {st.median(a[r] / off[r] for r in reps):11.2f}x "
          f"{st.median(same):13.2f} {same[0]:5.2f}-{same[-1]:<5.2f} {sum(a[r] < b[r] for r in reps):7d} of {len(reps)}")
PY
echo "runs kept in $logs" >&2
