#!/usr/bin/env bash
# Exact attribution, repeated: tests/Targets/LeakTests.NUnit (201 tests, 8 in parallel; 3 leak: a task parked on a
# TaskCompletionSource, a fire-and-forget that throws, a timer left running) run RUNS times with `dotnet test --no-build`.
# A run is right when exactly those 3 tests fail. Prints each wrong run's failed tests, then the count of right runs.
#
#   bench/leak-attribution-runs.sh [RUNS]      (default 20; build the tests first: dotnet build tests/AsyncLens.Tests)
#
# Not a test: the suite checks one run (tests/AsyncLens.Tests/Leaks/AdapterTests.cs); this says how often it holds.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
runs="${1:-20}"
[[ "$runs" =~ ^[1-9][0-9]*$ ]] || { echo "usage: $0 [RUNS]" >&2; exit 2; }
dll="$root/artifacts/bin/LeakTests.NUnit/debug/LeakTests.NUnit.dll"
[[ -f "$dll" ]] || { echo "$0: $dll is missing: dotnet build tests/AsyncLens.Tests" >&2; exit 2; }
expected="Leaks_a_fire_and_forget_that_throws Leaks_a_running_timer Leaks_a_task_parked_on_a_completion_source"
right=0
for i in $(seq 1 "$runs"); do
    failed="$(dotnet test "$dll" 2>&1 | sed -nE 's/^  Failed ([A-Za-z_0-9().]+) \[.*/\1/p' | sort | tr '\n' ' ' | sed 's/ $//' || true)"
    if [[ "$failed" == "$expected" ]]; then right=$((right + 1)); else echo "run $i: failed: ${failed:-none}"; fi
done
echo "$right of $runs runs failed exactly the 3 leaking tests (201 tests; load $(cut -d' ' -f1-3 /proc/loadavg))"
