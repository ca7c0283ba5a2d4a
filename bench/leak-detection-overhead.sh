#!/usr/bin/env bash
# What [assembly: DetectAsyncLeaks] costs a test run: bench/AsyncLens.Bench.Tests (1,000 healthy async tests, NUnit, 8 in
# parallel: channels, Task.Run, WhenAll, a timer disposed) built in Release without and with detection, then
# `dotnet test --no-build` of each, alternately, RUNS times. Prints each run's wall time, the medians and their ratio,
# and how many tests failed (any failure with detection on is a false one).
#
#   bench/leak-detection-overhead.sh [RUNS]      (default 5)
#
# Not a test: nothing here asserts; the figures go to docs/testing.md. Run it under flock /tmp/asynclens-heavy.lock.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
runs="${1:-5}"
[[ "$runs" =~ ^[1-9][0-9]*$ ]] || { echo "usage: $0 [RUNS]" >&2; exit 2; }
tmp="$(mktemp -d /tmp/asynclens-leakbench.XXXXXX)"
trap 'rm -rf "$tmp"' EXIT
project="$here/AsyncLens.Bench.Tests/AsyncLens.Bench.Tests.csproj"
dotnet build "$project" -c Release -p:ArtifactsPath="$tmp/off" -v q -nologo >/dev/null
dotnet build "$project" -c Release -p:ArtifactsPath="$tmp/on" -p:DefineConstants=DETECT -v q -nologo >/dev/null
dll() { echo "$tmp/$1/bin/AsyncLens.Bench.Tests/release/AsyncLens.Bench.Tests.dll"; }
declare -a off on
run() { # mode -> "seconds failed"
    local start end out
    start=$(date +%s.%N)
    out="$(dotnet test "$(dll "$1")" 2>&1 || true)"
    end=$(date +%s.%N)
    local failed
    failed=$(grep -oE 'Failed: +[0-9]+' <<<"$out" | grep -oE '[0-9]+' | head -1)
    echo "$(echo "$end - $start" | bc) ${failed:-?}"
}
printf '%-4s %12s %12s %10s\n' run "without (s)" "with (s)" "failed"
for i in $(seq 1 "$runs"); do
    read -r a fa < <(run off)
    read -r b fb < <(run on)
    off+=("$a") on+=("$b")
    printf '%-4s %12.2f %12.2f %10s\n' "$i" "$a" "$b" "$fa/$fb"
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
m_off=$(median "${off[@]}") m_on=$(median "${on[@]}")
printf 'median: without %.2f s, with %.2f s: %.2fx (1,000 tests; load %s)\n' "$m_off" "$m_on" "$(echo "$m_on / $m_off" | bc -l)" "$(cut -d' ' -f1-3 /proc/loadavg)"
