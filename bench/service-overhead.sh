#!/usr/bin/env bash
# The cost of debug mode on a service-like workload: throughput with AsyncLens debug mode off and on.
#
#   bench/service-overhead.sh [REPETITIONS] [harness options...]
#
# Builds bench/AsyncLens.Bench in Release, then runs REPETITIONS (default 5) pairs of fresh
# processes, interleaved: debug off, debug on (the order is reversed every other repetition).
# Each process serves simulated requests from 64 concurrent clients, first until the JIT has settled
# (at most 12 s), then for 5 timed rounds, and prints its median requests/s; the table shows the
# median of those per mode and the throughput lost to debug mode. Harness options (--concurrency N,
# --payload-kb N, --warmup-ms N (the warm-up's limit), --rounds N, --round-ms N) go to every run.
# Needs the .NET SDK and python3 (which prints the table); runs from any directory.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
reps="${1:-5}"
[[ $# -gt 0 ]] && shift
if ! [[ "$reps" =~ ^[1-9][0-9]*$ ]]; then
    echo "usage: $0 [REPETITIONS] [--concurrency N] [--payload-kb N] [--warmup-ms N] [--rounds N] [--round-ms N]" >&2
    exit 2
fi
command -v dotnet >/dev/null || { echo "$0: dotnet (the .NET SDK) is not on PATH" >&2; exit 1; }
command -v python3 >/dev/null || { echo "$0: python3 is not on PATH (it prints the table)" >&2; exit 1; }

# Whatever debug switch the calling shell has on must not leak into the "off" runs.
unset DOTNET_STARTUP_HOOKS ASYNCLENS_DEBUG ASYNCLENS_OUTPUT ASYNCLENS_SLOW_MS ASYNCLENS_FORMAT

logs="$(mktemp -d "${TMPDIR:-/tmp}/asynclens-service.XXXXXX")"
echo "building bench/AsyncLens.Bench (Release)..." >&2
if ! dotnet build "$here/AsyncLens.Bench/AsyncLens.Bench.csproj" -c Release -nologo -v q >"$logs/build.log" 2>&1; then
    cat "$logs/build.log" >&2
    exit 1
fi
dll="$root/artifacts/bin/AsyncLens.Bench/release/AsyncLens.Bench.dll"
results="$logs/results.txt"
: >"$results"

run() { # run MODE REP [options...]: one fresh process, its RESULT line appended to $results
    local mode="$1" rep="$2"
    shift 2
    local out="$logs/$mode.$rep.out" err="$logs/$mode.$rep.err"
    if ! dotnet "$dll" service "$mode" "$@" >"$out" 2>"$err"; then
        echo "$0: service $mode (repetition $rep) failed:" >&2
        cat "$out" "$err" >&2
        exit 1
    fi
    local line
    line="$(grep '^RESULT ' "$out" | tail -n 1)"
    echo "rep=$rep ${line#RESULT }" >>"$results"
    printf ' %s %s' "$mode" "$(sed -n 's/.* rps=\([^ ]*\).*/\1/p' <<<"$line")" >&2
}

for ((rep = 1; rep <= reps; rep++)); do
    modes=(off on)
    if ((rep % 2 == 0)); then modes=(on off); fi
    printf 'repetition %d/%d (median requests/s):' "$rep" "$reps" >&2
    for mode in "${modes[@]}"; do
        run "$mode" "$rep" "$@"
    done
    echo >&2
done

python3 - "$results" "$logs" <<'PY'
import statistics
import sys

results, logs = sys.argv[1], sys.argv[2]
rows = {}
for line in open(results, encoding="utf-8"):
    fields = dict(token.split("=", 1) for token in line.split())
    rows.setdefault(fields["mode"], []).append(fields)

def column(mode, key):
    return [float(r[key]) for r in rows[mode]]

def med(mode, key):
    return statistics.median(column(mode, key))

first = rows["off"][0]
runs = len(rows["off"])
print()
print(f"service workload: {first['concurrency']} concurrent simulated requests, payload {first['payload_kb']} KB, "
      f"{first['rounds']} x {int(first['round_ms']) / 1000:g} s rounds after the JIT settles; {runs} fresh processes per row (medians)")
print(f"{'':27} {'req/s':>8} {'min..max of runs':>18} {'CPU µs/req':>11} {'GC pause %':>11} {'max step ms':>12} "
      f"{'warm-up s':>10} {'unsettled':>10} {'reports':>8}")
labels = {"off": "normal", "on": "debug (AsyncDebug.Enable)"}
for mode, label in labels.items():
    values = column(mode, "rps")
    spread = f"{min(values):.0f}..{max(values):.0f}"
    reports = sum(int(r["reports"]) for r in rows[mode]) if mode == "on" else "-"
    unsettled = sum(r["jit_settled"] != "yes" for r in rows[mode])
    print(f"{label:27} {statistics.median(values):8.0f} {spread:>18} {med(mode, 'cpu_us_per_req'):11.1f} "
          f"{med(mode, 'gc_pause_pct'):11.1f} {max(column(mode, 'max_step_ms')):12.1f} {med(mode, 'warmup_s'):10.1f} "
          f"{unsettled:>10} {reports:>8}")

throughput = med("on", "rps") / med("off", "rps")
cpu = med("on", "cpu_us_per_req") / med("off", "cpu_us_per_req")
by_rep = {r["rep"]: float(r["rps"]) for r in rows["off"]}
paired = [float(r["rps"]) / by_rep[r["rep"]] for r in rows["on"]]
print()
print(f"throughput debug/normal = {throughput:.2f}x ({(throughput - 1) * 100:+.0f}% requests/s)   "
      f"CPU per request debug/normal = {cpu:.2f}x ({(cpu - 1) * 100:+.0f}%)")
print(f"(same-repetition throughput ratios: {min(paired):.2f}x..{max(paired):.2f}x; max step ms = longest single "
      "request deserialization in any run; warm-up s = time until tiered JIT stopped compiling; unsettled = runs whose warm-up hit its limit first)")
reported = sum(int(r["reports"]) for r in rows["on"])
if reported:
    print(f"\nWARNING: debug mode made {reported} report(s) on this healthy workload; see {logs}/on.*.err")
print(f"raw results and logs: {logs}")
PY
