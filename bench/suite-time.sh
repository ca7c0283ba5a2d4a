#!/usr/bin/env bash
# Where the suite's time goes: each test assembly given (default both, one after the other, as .ci/run runs them) run
# whole with `dotnet test --no-build`, its TRX and TimingGate's log (ASYNCLENS_GATE_LOG) kept, then read by
# bench/lib/suite_time.py: wall, CPU, the slowest facts, each class's span, and how much of the wall one timing-sensitive
# program at a time held. XUNIT_THREADS=N runs xunit with N threads (MaxParallelThreads; default: one per core) to
# try more parallelism without changing the projects; FILTER=EXPR passes `--filter EXPR` (a part of an assembly).
#
#   flock /tmp/asynclens-heavy.lock bench/suite-time.sh [AsyncLens.Tests] [AsyncLens.Cli.Tests]
#
# Needs a Debug build (dotnet build -c Debug). Not a test: nothing here asserts; the figures go to docs/testing.md.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
[[ $# -gt 0 ]] || set -- AsyncLens.Tests AsyncLens.Cli.Tests
out="$(mktemp -d "${TMPDIR:-/tmp}/asynclens-suite-time.XXXXXX")"
for assembly in "$@"; do
    [[ -f "artifacts/bin/$assembly/debug/$assembly.dll" ]] || { echo "$0: build first (dotnet build -c Debug): no $assembly" >&2; exit 1; }
    settings=()
    filter=()
    [[ -n "${FILTER:-}" ]] && filter=(--filter "$FILTER")
    [[ -n "${XUNIT_THREADS:-}" ]] && settings=(-- "xUnit.MaxParallelThreads=$XUNIT_THREADS")
    echo "== $assembly (threads: ${XUNIT_THREADS:-one per core}); before: $(uptime)"
    status=0
    ASYNCLENS_GATE_LOG="$out/$assembly.gate" /usr/bin/time -f "cpu: %U s user, %S s system, %e s wall" -o "$out/$assembly.time" \
        dotnet test "tests/$assembly" --no-build --logger "trx;LogFileName=$out/$assembly.trx" "${filter[@]}" "${settings[@]}" >"$out/$assembly.log" 2>&1 || status=$?
    echo "after: $(uptime); dotnet test exit $status; $(cat "$out/$assembly.time")"
    touch "$out/$assembly.gate"
    python3 bench/lib/suite_time.py "$out/$assembly.trx" "$out/$assembly.gate" "${TOP:-25}"
    grep -E '\[FAIL\]' "$out/$assembly.log" || true
done
echo "== kept in $out"
