#!/usr/bin/env bash
# Debug mode's cost on a delegate task's run, measured side by side with the engine of another commit.
#
#   bench/task-run-before-after.sh BEFORE_COMMIT [REPETITIONS]
#
# Builds bench/AsyncLens.Bench in Release at the working tree, and at BEFORE_COMMIT (a detached worktree in a temporary
# directory) with the working tree's harness (AwaitBenchmark.cs, Program.cs) copied in, so only the engine differs;
# then runs REPETITIONS (default 5) rounds of fresh processes, the two builds in alternating order (reversed every other
# repetition): `task-run off` (no debug mode, the working tree's build) and `task-run on` with each build: µs per
# `await Task.Run(() => Leaf())`, a delegate task whose run creates a box and is judged at its end. Prints each row's
# median µs per iteration (each process's median over its rounds) and after/before in the same repetition: the
# machine's load moves both alike. Run it under the heavy lock on a shared machine.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
source "$here/lib/common.sh"
before="${1:-}"
[[ -n "$before" ]] && git -C "$root" rev-parse --verify -q "$before^{commit}" >/dev/null \
    || { echo "usage: $0 BEFORE_COMMIT [REPETITIONS]" >&2; exit 2; }
parse_reps "" "${2:-}"
require_tools
unset_debug_env

logs="$(mktemp -d "${TMPDIR:-/tmp}/asynclens-task-run.XXXXXX")"
tree="$logs/before-tree"
trap 'git -C "$root" worktree remove --force "$tree" >/dev/null 2>&1 || true' EXIT
git -C "$root" worktree add --detach "$tree" "$before" >/dev/null 2>&1
cp "$here/AsyncLens.Bench/AwaitBenchmark.cs" "$here/AsyncLens.Bench/Program.cs" "$tree/bench/AsyncLens.Bench/"
echo "building bench/AsyncLens.Bench (Release) at $before and at the working tree..." >&2
build_release "$logs/build.log" "$tree/bench/AsyncLens.Bench/AsyncLens.Bench.csproj" "$here/AsyncLens.Bench/AsyncLens.Bench.csproj"
cp -r "$tree/artifacts/bin/AsyncLens.Bench/release" "$logs/before"
cp -r "$root/artifacts/bin/AsyncLens.Bench/release" "$logs/after"

results="$logs/results.txt"
: >"$results"
for ((rep = 1; rep <= reps; rep++)); do
    runs=(off before after)
    ((rep % 2)) || runs=(after before off)
    for run in "${runs[@]}"; do
        out="$logs/$run.$rep.out" err="$logs/$run.$rep.err"
        case "$run" in
            off) run_once "$run ($rep)" "$out" "$err" dotnet "$logs/after/AsyncLens.Bench.dll" task-run off ;;
            *) run_once "$run ($rep)" "$out" "$err" dotnet "$logs/$run/AsyncLens.Bench.dll" task-run on ;;
        esac
        median="$(sed -n 's/^RESULT .*median_us=\([0-9.]*\).*/\1/p' "$out" | tail -1)"
        [[ -n "$median" ]] || fail "$run printed no RESULT" "$out" "$err"
        echo "$run $rep $median $(cut -d' ' -f1 /proc/loadavg)" | tee -a "$results" >&2
    done
done

python3 -B - "$results" <<'PY'
import statistics as st
import sys

d, loads = {}, []
for line in open(sys.argv[1]):
    run, rep, median, load = line.split()
    d.setdefault(run, {})[int(rep)] = float(median)
    loads.append(float(load))
reps = sorted(d["off"])
print(f"median µs per `await Task.Run(() => Leaf())`, {len(reps)} repetitions, load average {min(loads):.0f}-{max(loads):.0f}")
for run, label in (("off", "debug mode off"), ("before", "debug mode, engine before"), ("after", "debug mode, engine after")):
    print(f"{label:<28} {st.median(d[run].values()):8.3f}")
same = sorted(d["after"][r] / d["before"][r] for r in reps)
print(f"after/before (same repetition): median {st.median(same):.2f} ({same[0]:.2f}-{same[-1]:.2f}), "
      f"after faster in {sum(d['after'][r] < d['before'][r] for r in reps)} of {len(reps)}")
PY
echo "runs kept in $logs" >&2
