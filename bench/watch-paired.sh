#!/usr/bin/env bash
# The cost of `asynclens watch` on a healthy ASP.NET Core service under load, measured on ONE server process that
# watch attaches to and detaches from in turn (issue 18: <= 1% server CPU per request).
#
#   bench/watch-paired.sh [BLOCKS] [--block-s N] [--round-ms N] [--warm-s N] [load options...]
#
# bench/watch-overhead.sh compares fresh processes run one after the other: on a machine shared with other work its
# rows differ by the load of the minute they ran in (0.44x-4.2x between the same repetition's rows at load 10-44).
# Here one server (bench/AsyncLens.Bench.Web, Release) is loaded without a pause by bench/AsyncLens.Bench.Load, in
# rounds of --round-ms (default 500) after its JIT has settled, while `asynclens watch PID` runs for N seconds (from its
# "watching" line, its EventPipe session open, to its end), then does not for N seconds, BLOCKS times (default 24,
# N = 5: bench/lib/watch_blocks.sh), after watch attached once for --warm-s (default 40: the server's JIT compiles and
# tiers up the code the session runs in it, the counters' once a second, not counted). The server's CPU is its own count (Environment.CpuUsage, every thread's, read by /stats each
# round: microseconds, not /proc's 10 ms ticks); each round wholly inside a stretch and begun 1 s or more into it
# counts for it (not the attaching or detaching), summed: a stretch's
# CPU per request is its CPU over its requests. Each attached stretch is set against the mean of the detached stretches
# just before and after it (a machine growing busier or quieter weighs on both sides). Prints the median of those
# ratios, their spread and a bootstrap interval of that median (what the run can resolve at the machine's load), the
# events watch read by name (a second and per request), and the load average; the figures also go to summary.json in
# the logs' directory (bench/watch-cost.sh reads it). Everything listens on and connects to 127.0.0.1 only. Run it
# under `flock /tmp/asynclens-heavy.lock`.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
source "$here/lib/common.sh"
source "$here/lib/watch_blocks.sh"
parse_reps "[--block-s N] [--round-ms N] [--warm-s N] [--concurrency N] [--post-percent N]" "${1:-24}"
[[ $# -gt 0 ]] && shift
block_s=5
round_ms=500
warm_s=40
while [[ "${1:-}" =~ ^--(block-s|round-ms|warm-s)$ ]]; do
    [[ "${2:-}" =~ ^[0-9]+$ ]] || { echo "$0: $1 takes a number" >&2; exit 2; }
    case "$1" in
        --block-s) block_s="$2" ;;
        --round-ms) round_ms="$2" ;;
        *) warm_s="$2" ;;
    esac
    shift 2
done
require_tools "it prints the table"
unset_debug_env ASPNETCORE_URLS DOTNET_URLS ASPNETCORE_HTTP_PORTS ASPNETCORE_HTTPS_PORTS ASPNETCORE_ENVIRONMENT DOTNET_ENVIRONMENT

logs="$(mktemp -d "${TMPDIR:-/tmp}/asynclens-watch-paired.XXXXXX")"
started=$SECONDS
echo "building src/AsyncLens.Cli, bench/AsyncLens.Bench.Web and bench/AsyncLens.Bench.Load (Release)..." >&2
build_release "$logs/build.log" "$root/src/AsyncLens.Cli/AsyncLens.Cli.csproj" \
    "$here/AsyncLens.Bench.Web/AsyncLens.Bench.Web.csproj" "$here/AsyncLens.Bench.Load/AsyncLens.Bench.Load.csproj"
cli="$root/artifacts/bin/AsyncLens.Cli/release/asynclens.dll"
web="$root/artifacts/bin/AsyncLens.Bench.Web/release/AsyncLens.Bench.Web.dll"
load="$root/artifacts/bin/AsyncLens.Bench.Load/release/AsyncLens.Bench.Load.dll"

server=""
watcher=""
loader=""
stop_all() {
    for p in "$watcher" "$loader" "$server"; do
        [[ -n "$p" ]] && { kill -TERM "$p" 2>/dev/null || true; end_process "$p"; }
    done
    watcher=""
    loader=""
    server=""
}
trap stop_all EXIT

dotnet "$web" --port 0 >"$logs/server.out" 2>"$logs/server.err" &
server=$!
url=""
for _ in $(seq 300); do
    url="$(sed -n 's/^LISTENING \(http:\/\/127\.0\.0\.1:[0-9]*\)$/\1/p' "$logs/server.out")"
    [[ -n "$url" ]] && break
    kill -0 "$server" 2>/dev/null || fail "the server exited before listening:" "$logs/server.out" "$logs/server.err"
    sleep 0.1
done
[[ -n "$url" ]] || fail "the server did not print a 127.0.0.1 address within 30 s:" "$logs/server.out" "$logs/server.err"

# The rounds (after the load generator's warm-up) span watch's warm-up and BLOCKS blocks with their watch start-ups (3 s
# allowed each); the blocks go on until it ends (it prints its rounds only then), the ones cut by its end count for nothing.
rounds=$(((warm_s + 4 + reps * (2 * block_s + 3)) * 1000 / round_ms))
dotnet "$load" --url "$url" --rounds "$rounds" --round-ms "$round_ms" "$@" >"$logs/load.out" 2>"$logs/load.err" &
loader=$!
watch_blocks "$cli" "$server" "$block_s" "$warm_s" "$logs" kill -0 "$loader"
wait "$loader" || fail "the load generator failed:" "$logs/load.err" "$logs/load.out"
loader=""
grep -q 'round ends' "$logs/load.err" || fail "the load generator printed no rounds (ended before its warm-up did?):" "$logs/load.err" "$logs/load.out"

python3 -B - "$here/lib" "$logs" "$((SECONDS - started))" <<'PY'
import json, re, statistics, sys
sys.path.insert(0, sys.argv[1])
import watch_blocks as wb

logs, elapsed = sys.argv[2], int(sys.argv[3])
err = open(f"{logs}/load.err", encoding="utf-8").read()
pairs = re.search(r"rounds \(req/s, server CPU µs/req\): (.*)", err).group(1).split()
ends = [int(t) for t in re.search(r"round ends \(unix ms\): (.*)", err).group(1).split()]
out = open(f"{logs}/load.out", encoding="utf-8").read()
start = int(re.search(r"rounds_from_ms=(\d+)", out).group(1)) if "rounds_from_ms" in out else ends[0] - 1000
rounds = []
for i, (pair, end) in enumerate(zip(pairs, ends)):
    rps, cpu = (float(x) for x in pair.split("/"))
    begin = ends[i - 1] if i else start
    requests = rps * (end - begin) / 1000
    rounds.append((begin, end, requests, cpu * requests))
warm, stretches = wb.stretches(logs)
wb.count_rounds(stretches, rounds)
blocks = wb.blocks(stretches, "work")
if not blocks:
    sys.exit("no attached stretch had rounds, nor a detached one beside it (the warm-up took them all?): see " + logs)
ratios = [r for _, _, r in blocks]
used = [s for s in stretches if s["n"]]
side = lambda name: [s for s in used if s["side"] == name]
cpu_req = lambda ss: sum(s["cpu"] for s in ss) / sum(s["work"] for s in ss)
rps = lambda ss: sum(s["work"] for s in ss) / sum(s["ms"] for s in ss) * 1000
lo, hi = wb.interval(ratios)
med = statistics.median(ratios)
q1, q3 = statistics.quantiles(ratios, n=4)[0::2] if len(ratios) >= 2 else (ratios[0], ratios[0])
print()
print(f"one ASP.NET Core order API server (Release) under load; asynclens watch attached {len(blocks)} times for "
      f"{statistics.median(s['to'] - s['from'] for s, _, _ in blocks) / 1000:.1f} s, detached between; "
      f"{sum(s['n'] for s in used)} rounds of {statistics.median(r[1] - r[0] for r in rounds):.0f} ms inside the stretches")
print(f"{'':26}{'server CPU µs/req':>18}{'req/s':>9}")
print(f"{'detached (all rounds)':26}{cpu_req(side('off')):>18.2f}{rps(side('off')):>9.0f}")
print(f"{'watch attached':26}{cpu_req(side('on')):>18.2f}{rps(side('on')):>9.0f}")
print(f"\nserver CPU per request attached / detached beside it, per block: median {med:.4f}x ({(med - 1) * 100:+.2f}%), "
      f"quartiles {q1:.3f}x..{q3:.3f}x, all {min(ratios):.3f}x..{max(ratios):.3f}x")
print(f"95% interval of that median (bootstrap over the blocks): {lo:.4f}x..{hi:.4f}x: a cost below {max(hi - 1, 0) * 100:.2f}% is all this run can show")
watched = [s for s, _, _ in blocks if s["events"] is not None]
seconds = sum(s["watched_s"] for s in watched)
names = {}
for s in watched:
    for name, count in s["by_name"].items():
        names[name] = names.get(name, 0) + count
on_rps = rps(side("on"))
print(f"events watch read: {sum(s['events'] for s in watched) / seconds:.1f} a second, "
      f"{sum(s['events'] for s in watched) / seconds / on_rps:.5f} per request; by name, a second:")
print("  " + ", ".join(f"{name} {count / seconds:.1f}" for name, count in sorted(names.items(), key=lambda kv: -kv[1])))
import glob, os
written = sum(1 for f in glob.glob(f"{logs}/incidents.*") if os.path.getsize(f))
dismissed = sum(open(f, encoding="utf-8").read().count(": not an incident") for f in glob.glob(f"{logs}/watch.*.err"))
print(f"incidents written: {written} (signals the doctor found nothing stuck behind, not incidents: {dismissed})")
print(f"machine load average (1 min) at the stretches' ends: {wb.loads(used)}")
json.dump({"ratio_median": med, "ratio_interval": [lo, hi], "blocks": len(blocks), "cpu_us_per_req_off": cpu_req(side("off")),
           "cpu_us_per_req_on": cpu_req(side("on")), "rps_off": rps(side("off")), "rps_on": on_rps, "watched_s": seconds,
           "events_by_name": names, "load": wb.loads(used), "incidents": written, "dismissed": dismissed}, open(f"{logs}/summary.json", "w", encoding="utf-8"), indent=1)
print(f"\nraw results and logs: {logs}   ({elapsed} s)")
PY
