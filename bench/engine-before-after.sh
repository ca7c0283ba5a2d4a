#!/usr/bin/env bash
# Debug mode's cost with the working tree's engine, measured side by side with the engine of another commit.
#
#   bench/engine-before-after.sh BEFORE_COMMIT [REPETITIONS] [WORKLOAD...]
#
# WORKLOAD (AsyncLens.Bench workloads, each measured in turn): task-run (the default: µs per
# `await Task.Run(() => Leaf())`, a delegate task whose run creates a box and is judged at its end), await (µs per
# `await Mid()`, Mid awaiting Leaf, Leaf yielding), service (64 concurrent simulated requests: CPU µs per request, and
# requests/s).
# Builds bench/AsyncLens.Bench in Release at the working tree, and at BEFORE_COMMIT (a detached worktree in a temporary
# directory) with the working tree's harness (bench/AsyncLens.Bench/*.cs) copied in, so only the engine differs; then,
# for each workload, runs REPETITIONS (default 5) rounds of fresh processes in alternating order (reversed every other
# repetition): the workload off (no debug mode, the working tree's build) and on with each build. Prints each row's
# median (each process's median over its rounds) and after/before in the same repetition: the machine's load moves both
# alike. The before build is kept (its AsyncLens.Engine.dll serves bench/web-overhead.sh's BENCH_ENGINE_BEFORE). Run it under
# the heavy lock on a shared machine.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
source "$here/lib/common.sh"
usage="[task-run|await|service ...]"
before="${1:-}"
[[ -n "$before" ]] && git -C "$root" rev-parse --verify -q "$before^{commit}" >/dev/null \
    || { echo "usage: $0 BEFORE_COMMIT [REPETITIONS] $usage" >&2; exit 2; }
parse_reps "$usage" "${2:-}"
workloads=("${@:3}")
[[ ${#workloads[@]} -gt 0 ]] || workloads=(task-run)
for workload in "${workloads[@]}"; do
    [[ "$workload" =~ ^(task-run|await|service)$ ]] || { echo "usage: $0 BEFORE_COMMIT [REPETITIONS] $usage" >&2; exit 2; }
done
require_tools
unset_debug_env

logs="$(mktemp -d "${TMPDIR:-/tmp}/asynclens-before-after.XXXXXX")"
tree="$logs/before-tree"
trap 'git -C "$root" worktree remove --force "$tree" >/dev/null 2>&1 || true' EXIT
git -C "$root" worktree add --detach "$tree" "$before" >/dev/null 2>&1
cp "$here"/AsyncLens.Bench/*.cs "$tree/bench/AsyncLens.Bench/"
echo "building bench/AsyncLens.Bench (Release) at $before and at the working tree..." >&2
build_release "$logs/build.log" "$tree/bench/AsyncLens.Bench/AsyncLens.Bench.csproj" "$here/AsyncLens.Bench/AsyncLens.Bench.csproj"
cp -r "$tree/artifacts/bin/AsyncLens.Bench/release" "$logs/before"
cp -r "$root/artifacts/bin/AsyncLens.Bench/release" "$logs/after"

summary() { # summary RESULTS WORKLOAD KEY: the table of one workload
    python3 -B - "$@" <<'PY'
import statistics as st
import sys

workload, key = sys.argv[2], sys.argv[3]
d, rps, reports, loads = {}, {}, {}, []
for line in open(sys.argv[1]):
    run, rep, value, r, n, load = line.split()
    d.setdefault(run, {})[int(rep)] = float(value)
    rps.setdefault(run, {})[int(rep)] = float(r)
    reports[run] = reports.get(run, 0) + int(n)
    loads.append(float(load))
reps = sorted(d["off"])
what = {"task-run": "µs per `await Task.Run(() => Leaf())`", "await": "µs per `await Mid()`",
        "service": "server CPU µs per request (64 concurrent simulated requests)"}[workload]
print(f"{workload}: median {what}, {len(reps)} repetitions, load average {min(loads):.0f}-{max(loads):.0f}")
for run, label in (("off", "debug mode off"), ("before", "debug mode, engine before"), ("after", "debug mode, engine after")):
    extra = f"   {st.median(rps[run].values()):8.0f} req/s" if workload == "service" else ""
    print(f"{label:<28} {st.median(d[run].values()):8.3f}{extra}   reports {reports.get(run, 0)}")
same = sorted(d["after"][r] / d["before"][r] for r in reps)
print(f"after/before (same repetition, {key}): median {st.median(same):.3f} ({same[0]:.3f}-{same[-1]:.3f}), "
      f"after lower in {sum(d['after'][r] < d['before'][r] for r in reps)} of {len(reps)}")
over = st.median(d["after"].values()) - st.median(d["off"].values())
was = st.median(d["before"].values()) - st.median(d["off"].values())
print(f"debug mode's own cost ({key}, medians less off): before {was:.3f}, after {over:.3f}")
PY
}

for workload in "${workloads[@]}"; do
    key=median_us
    [[ "$workload" == service ]] && key=cpu_us_per_req
    results="$logs/$workload.results.txt"
    : >"$results"
    for ((rep = 1; rep <= reps; rep++)); do
        runs=(off before after)
        ((rep % 2)) || runs=(after before off)
        for run in "${runs[@]}"; do
            out="$logs/$workload.$run.$rep.out" err="$logs/$workload.$run.$rep.err"
            case "$run" in
                off) run_once "$run ($rep)" "$out" "$err" dotnet "$logs/after/AsyncLens.Bench.dll" "$workload" off ;;
                *) run_once "$run ($rep)" "$out" "$err" dotnet "$logs/$run/AsyncLens.Bench.dll" "$workload" on ;;
            esac
            line="$(grep '^RESULT ' "$out" | tail -n 1)"
            value="$(sed -n "s/.* $key=\([0-9.]*\).*/\1/p" <<<"$line")"
            [[ -n "$value" ]] || fail "$run printed no $key" "$out" "$err"
            rps="$(sed -n 's/.* rps=\([0-9.]*\).*/\1/p' <<<"$line")"
            reports="$(sed -n 's/.* reports=\([0-9]*\).*/\1/p' <<<"$line")"
            echo "$run $rep $value ${rps:-0} ${reports:-0} $(cut -d' ' -f1 /proc/loadavg)" | tee -a "$results" >&2
        done
    done

    summary "$results" "$workload" "$key"
done
echo "runs kept in $logs" >&2
