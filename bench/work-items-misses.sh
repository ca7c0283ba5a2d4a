#!/usr/bin/env bash
# Missed reports of tests/Targets/WorkItems' seeded first steps: the target (`all`, Debug and Release builds side by side,
# as WorkItemsTests' fixture runs them) RUNS times (default 8) under debug mode through the startup hook, with each
# engine given, engines interleaved so the machine's load falls on each alike; prints each run's slow-step methods and,
# per engine and build, how many runs missed the first shape's report (OwnScheduler.HandleAsync, flaky at load 10-20
# before 2026-12-06) and the `completed` shape's (a method completed before its delegate's run ended).
#
#   bench/work-items-misses.sh [RUNS] LABEL=ENGINE_DLL...
#
# e.g. LABEL after=artifacts/bin/AsyncLens/debug/AsyncLens.Engine.dll, and a copy of another commit's Debug engine.
# Uses the working tree's Debug and Release builds of the target (`dotnet build tests/AsyncLens.Tests`). Not a test:
# nothing here asserts; the figures go to docs/debug-mode.md.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
runs=8
if [[ "${1:-}" =~ ^[0-9]+$ ]]; then runs="$1"; shift; fi
[[ $# -gt 0 ]] || { echo "usage: $0 [RUNS] LABEL=ENGINE_DLL..." >&2; exit 2; }
for spec in "$@"; do
    [[ "$spec" == *=* && -f "${spec#*=}" ]] || { echo "$0: $spec: expected LABEL=<an existing AsyncLens.Engine.dll>" >&2; exit 2; }
done
for c in debug release; do
    [[ -f "$root/artifacts/bin/WorkItems/$c/WorkItems.dll" ]] || { echo "$0: build the target first (dotnet build tests/AsyncLens.Tests -c Debug; and -c Release)" >&2; exit 1; }
done
unset ASYNCLENS_OUTPUT ASYNCLENS_SLOW_MS ASYNCLENS_STEP_SOURCE ASYNCLENS_TASKS
out="$(mktemp -d "${TMPDIR:-/tmp}/asynclens-work-items.XXXXXX")"
labels=()
for spec in "$@"; do labels+=("${spec%%=*}"); done
for ((i = 1; i <= runs; i++)); do
    for spec in "$@"; do
        label="${spec%%=*}" engine="$(cd "$(dirname "${spec#*=}")" && pwd)/$(basename "${spec#*=}")"
        for c in debug release; do
            DOTNET_STARTUP_HOOKS="$engine" ASYNCLENS_DEBUG=1 ASYNCLENS_FORMAT=json \
                dotnet "$root/artifacts/bin/WorkItems/$c/WorkItems.dll" all >"$out/$label.$c.$i.out" 2>"$out/$label.$c.$i.err" &
        done
        wait
        cut -d' ' -f1 /proc/loadavg >"$out/$label.load.$i"
    done
done
python3 -B - "$out" "$runs" "${labels[@]}" <<'PY'
import json
import sys

out, runs, labels = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
shapes = {"scheduler": "OwnScheduler.HandleAsync(", "completed": "Completed.HandleAsync("}
for label in labels:
    missed, loads = {}, []
    for i in range(1, runs + 1):
        loads.append(float(open(f"{out}/{label}.load.{i}").read()))
        for build in ("debug", "release"):
            methods = [json.loads(line)["method"] for line in open(f"{out}/{label}.{build}.{i}.err", errors="replace")
                       if line.startswith('{"kind"')]
            done = "work items done" in open(f"{out}/{label}.{build}.{i}.out").read()
            print(f"{label} {build} run {i} (load {loads[-1]}){'' if done else ' NOT DONE'}: "
                  + ", ".join(sorted(m.split("(")[0] for m in methods)))
            for shape, method in shapes.items():
                if not any(m.startswith(method) for m in methods):
                    missed[(build, shape)] = missed.get((build, shape), 0) + 1
    for build in ("debug", "release"):
        print(f"{label} {build}: " + ", ".join(f"{shape} missed in {missed.get((build, shape), 0)} of {runs}" for shape in shapes)
              + f"; load {min(loads):.1f}-{max(loads):.1f}")
print(f"runs kept in {out}")
PY
