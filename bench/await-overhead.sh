#!/usr/bin/env bash
# The cost of debug mode on a bare await, .NET (AsyncLens) next to Python (asyncio debug=True).
#
#   bench/await-overhead.sh [REPETITIONS] [harness options...]
#
# Builds bench/AsyncLens.Bench in Release, then runs REPETITIONS (default 5) rounds of four fresh
# processes, interleaved: .NET debug off, .NET debug on, asyncio debug off, asyncio debug on (the
# order is reversed every other repetition). Each .NET process warms up until the JIT has settled
# (at most 8 s), Python for 1 s; then each prints its median µs per iteration over 10 rounds;
# the table shows the median of those per row, and the two ratios side by side.
# Harness options (--warmup-ms N, --rounds N, --round-ms N) go to both the .NET and Python runs.
# Needs only the .NET SDK and python3; runs from any directory.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
reps="${1:-5}"
[[ $# -gt 0 ]] && shift
if ! [[ "$reps" =~ ^[1-9][0-9]*$ ]]; then
    echo "usage: $0 [REPETITIONS] [--warmup-ms N] [--rounds N] [--round-ms N]" >&2
    exit 2
fi
command -v dotnet >/dev/null || { echo "$0: dotnet (the .NET SDK) is not on PATH" >&2; exit 1; }
command -v python3 >/dev/null || { echo "$0: python3 is not on PATH" >&2; exit 1; }

# Whatever debug switch the calling shell has on must not leak into the "off" runs.
unset DOTNET_STARTUP_HOOKS ASYNCLENS_DEBUG ASYNCLENS_OUTPUT ASYNCLENS_SLOW_MS ASYNCLENS_FORMAT \
    PYTHONASYNCIODEBUG PYTHONDEVMODE PYTHONTRACEMALLOC

logs="$(mktemp -d "${TMPDIR:-/tmp}/asynclens-await.XXXXXX")"
echo "building bench/AsyncLens.Bench (Release)..." >&2
if ! dotnet build "$here/AsyncLens.Bench/AsyncLens.Bench.csproj" -c Release -nologo -v q >"$logs/build.log" 2>&1; then
    cat "$logs/build.log" >&2
    exit 1
fi
dll="$root/artifacts/bin/AsyncLens.Bench/release/AsyncLens.Bench.dll"
py="$here/python/asyncio_await.py"
results="$logs/results.txt"
: >"$results"

run() { # run VARIANT REP COMMAND...: one fresh process, its RESULT line appended to $results
    local variant="$1" rep="$2"
    shift 2
    local out="$logs/$variant.$rep.out" err="$logs/$variant.$rep.err"
    if ! "$@" >"$out" 2>"$err"; then
        echo "$0: $variant (repetition $rep) failed:" >&2
        cat "$out" "$err" >&2
        exit 1
    fi
    local line
    line="$(grep '^RESULT ' "$out" | tail -n 1)"
    echo "variant=$variant rep=$rep ${line#RESULT }" >>"$results"
    printf ' %s %s' "$variant" "$(sed -n 's/.* median_us=\([^ ]*\).*/\1/p' <<<"$line")" >&2
}

for ((rep = 1; rep <= reps; rep++)); do
    variants=(net-off net-on py-off py-on)
    if ((rep % 2 == 0)); then variants=(py-on py-off net-on net-off); fi
    printf 'repetition %d/%d (median µs/iter):' "$rep" "$reps" >&2
    for variant in "${variants[@]}"; do
        case "$variant" in
            net-off) run "$variant" "$rep" dotnet "$dll" await off "$@" ;;
            net-on) run "$variant" "$rep" dotnet "$dll" await on "$@" ;;
            py-off) run "$variant" "$rep" python3 "$py" --mode off "$@" ;;
            py-on) run "$variant" "$rep" python3 "$py" --mode on "$@" ;;
        esac
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
    rows.setdefault(fields["variant"], []).append(fields)

def medians(variant):
    return [float(r["median_us"]) for r in rows[variant]]

def ratio_range(on, off):
    by_rep = {r["rep"]: float(r["median_us"]) for r in rows[off]}
    paired = [float(r["median_us"]) / by_rep[r["rep"]] for r in rows[on]]
    return min(paired), max(paired)

labels = {
    "net-off": ".NET     normal",
    "net-on": ".NET     debug (AsyncDebug.Enable)",
    "py-off": "asyncio  normal",
    "py-on": "asyncio  debug=True",
}
runs = len(rows["net-off"])
print()
print(f"await micro-benchmark: µs per `await Mid()` (Mid awaits Leaf, Leaf yields); {runs} fresh processes per row")
print(f"{'':36} {'median':>8} {'min..max of runs':>18} {'best round':>11} {'warm-up s':>10} {'unsettled':>10} {'reports':>8}")
for variant, label in labels.items():
    values = medians(variant)
    best = min(float(r["best_us"]) for r in rows[variant])
    reports = sum(int(r["reports"]) for r in rows[variant]) if variant == "net-on" else None
    spread = f"{min(values):.2f}..{max(values):.2f}"
    warmup, unsettled = "-", "-"
    if variant.startswith("net"):
        warmup = f"{statistics.median(float(r['warmup_s']) for r in rows[variant]):.1f}"
        unsettled = sum(r["jit_settled"] != "yes" for r in rows[variant])
    print(f"{label:36} {statistics.median(values):8.2f} {spread:>18} {best:11.2f} {warmup:>10} {unsettled:>10} "
          f"{'-' if reports is None else reports:>8}")

net = statistics.median(medians("net-on")) / statistics.median(medians("net-off"))
py = statistics.median(medians("py-on")) / statistics.median(medians("py-off"))
net_lo, net_hi = ratio_range("net-on", "net-off")
py_lo, py_hi = ratio_range("py-on", "py-off")
print()
print(f".NET debug/normal = {net:.1f}x   asyncio debug/normal = {py:.1f}x")
def best_ratio(on, off):
    return min(float(r["best_us"]) for r in rows[on]) / min(float(r["best_us"]) for r in rows[off])

print(f"(same-repetition ratios: .NET {net_lo:.1f}x..{net_hi:.1f}x, asyncio {py_lo:.1f}x..{py_hi:.1f}x; "
      f"best-round ratios: .NET {best_ratio('net-on', 'net-off'):.1f}x, asyncio {best_ratio('py-on', 'py-off'):.1f}x)")
reported = sum(int(r["reports"]) for r in rows["net-on"])
if reported:
    print(f"\nWARNING: debug mode made {reported} report(s) on this healthy workload; see {logs}/net-on.*.err")
print(f"raw results and logs: {logs}")
PY
