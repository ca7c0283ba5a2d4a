#!/usr/bin/env bash
# What Forget() costs with debug mode off: fire-and-forget calls of an async method that suspends once, discarded
# (`_ = Leaf()`), through `Leaf().Forget()` and through `Leaf().Forget(handler)`, interleaved in each process.
#
#   bench/forget-overhead.sh [REPETITIONS]
#
# Builds bench/AsyncLens.Bench in Release, runs REPETITIONS (default 5) fresh processes of `AsyncLens.Bench forget off`,
# and prints the median over them of each variant's µs and bytes per call, and what Forget adds to a discarded call.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
source "$here/lib/common.sh"
parse_reps "" "${1:-}"
command -v dotnet >/dev/null || { echo "$0: dotnet (the .NET SDK) is not on PATH" >&2; exit 1; }
command -v python3 >/dev/null || { echo "$0: python3 is not on PATH (it prints the table)" >&2; exit 1; }
unset_debug_env

build_harness forget
for rep in $(seq 1 "$reps"); do
    run_once "forget, repetition $rep" "$logs/out.$rep" "$logs/err.$rep" dotnet "$dll" forget off
    grep '^RESULT ' "$logs/out.$rep" >>"$results"
done
python3 - "$results" <<'PY'
import statistics, sys
rows = [dict(kv.split("=", 1) for kv in line.split()[1:]) for line in open(sys.argv[1])]
med = lambda key: statistics.median(float(r[key]) for r in rows)
print(f"{len(rows)} processes; median of each process's median over 10 rounds of ~200 ms")
print(f"{'variant':<28}{'µs/call':>10}{'bytes/call':>12}")
for v, label in [("discard", "_ = Leaf()  (the bug)"), ("forget", "Leaf().Forget()"), ("forget-handler", "Leaf().Forget(handler)")]:
    print(f"{label:<28}{med(v + '_us'):>10.3f}{med(v + '_bytes'):>12.0f}")
for v in ("forget", "forget-handler"):
    print(f"{v}: +{med(v + '_us') - med('discard_us'):.3f} µs, +{med(v + '_bytes') - med('discard_bytes'):.0f} bytes per call "
          f"({med(v + '_us') / med('discard_us'):.2f}x)")
PY
