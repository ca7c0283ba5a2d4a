#!/usr/bin/env bash
# The cost of `asynclens watch` on a healthy ASP.NET Core service under load, measured on ONE server process that
# watch attaches to and detaches from in turn (issue 18: <= 1% server CPU per request).
#
#   bench/watch-paired.sh [BLOCKS] [--block-s N] [load options...]
#
# bench/watch-overhead.sh compares fresh processes run one after the other: on a machine shared with other work its
# rows differ by the load of the minute they ran in (0.44x-4.2x between the same repetition's rows at load 10-44).
# Here one server (bench/AsyncLens.Bench.Web, Release) is loaded without a pause by bench/AsyncLens.Bench.Load, in
# rounds of 1 s after its JIT has settled, while `asynclens watch PID` runs for N seconds (from its "watching" line,
# its EventPipe session open, to its end), then does not for N seconds, BLOCKS times (default 12, N = 10). Each round
# wholly inside an attached or a detached stretch counts for it; the ratio is taken per pair of neighbouring
# stretches (a block: detached then attached), so a busy minute of the machine weighs on both sides of a ratio.
# Prints the median of the blocks' ratios, their spread and a bootstrap interval of that median (what the run can
# resolve at the machine's load), the medians per side, the events watch read, and the load average. Everything listens on and connects to 127.0.0.1 only. Run it under `flock /tmp/asynclens-heavy.lock`.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
source "$here/lib/common.sh"
parse_reps "[--block-s N] [--concurrency N] [--post-percent N]" "${1:-12}"
[[ $# -gt 0 ]] && shift
block_s=10
if [[ "${1:-}" == --block-s ]]; then
    [[ "${2:-}" =~ ^[1-9][0-9]*$ ]] || { echo "$0: --block-s takes a number of seconds" >&2; exit 2; }
    block_s="$2"
    shift 2
fi
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
now_ms() { date +%s%3N; }

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

# The rounds (after the load generator's warm-up) span BLOCKS blocks and their watch start-ups; the blocks go on
# until it ends (it prints its rounds only then), the ones in its warm-up or cut by its end count for nothing.
rounds=$((reps * (2 * block_s + 3)))
dotnet "$load" --url "$url" --rounds "$rounds" "$@" >"$logs/load.out" 2>"$logs/load.err" &
loader=$!
stretches="$logs/stretches.txt"
: >"$stretches"
block=0
while kill -0 "$loader" 2>/dev/null; do
    # Detached, then attached.
    block=$((block + 1))
    off_from=$(now_ms)
    sleep "$block_s"
    kill -0 "$loader" 2>/dev/null || break
    echo "off $off_from $(now_ms) $(cut -d' ' -f1 /proc/loadavg)" >>"$stretches"
    dotnet "$cli" watch "$server" -o "$logs/incidents.$block" 2>"$logs/watch.$block.err" &
    watcher=$!
    for _ in $(seq 300); do
        grep -q '^asynclens: watching process' "$logs/watch.$block.err" && break
        kill -0 "$watcher" 2>/dev/null || fail "asynclens watch (block $block) ended:" "$logs/watch.$block.err"
        sleep 0.05
    done
    on_from=$(now_ms)
    sleep "$block_s"
    on_to=$(now_ms)
    kill -TERM "$watcher"
    end_process "$watcher"
    watcher=""
    echo "on $on_from $on_to $(cut -d' ' -f1 /proc/loadavg) $(sed -n 's/.* events read (\([0-9.]*\) a second)$/\1/p' "$logs/watch.$block.err" | tail -n 1)" >>"$stretches"
done
wait "$loader" || fail "the load generator failed:" "$logs/load.err" "$logs/load.out"
loader=""
grep -q 'round ends' "$logs/load.err" || fail "the load generator printed no rounds (ended before its warm-up did?):" "$logs/load.err" "$logs/load.out"

python3 -B - "$logs" "$stretches" "$((SECONDS - started))" <<'PY'
import random, re, statistics, sys

logs, stretches_path, elapsed = sys.argv[1], sys.argv[2], int(sys.argv[3])
err = open(f"{logs}/load.err", encoding="utf-8").read()
pairs = re.search(r"rounds \(req/s, server CPU µs/req\): (.*)", err).group(1).split()
ends = [int(t) for t in re.search(r"round ends \(unix ms\): (.*)", err).group(1).split()]
out = open(f"{logs}/load.out", encoding="utf-8").read()
start = int(re.search(r"rounds_from_ms=(\d+)", out).group(1)) if "rounds_from_ms" in out else ends[0] - 1000
rounds = []
for i, (pair, end) in enumerate(zip(pairs, ends)):
    rps, cpu = (float(x) for x in pair.split("/"))
    rounds.append((ends[i - 1] if i else start, end, rps, cpu))
stretches = []
for line in open(stretches_path, encoding="utf-8"):
    f = line.split()
    stretches.append({"side": f[0], "from": int(f[1]), "to": int(f[2]), "load": float(f[3]), "events": float(f[4]) if len(f) > 4 and f[4] else None})
for s in stretches:
    inside = [r for r in rounds if r[0] >= s["from"] and r[1] <= s["to"]]
    s["cpu"] = statistics.median([r[3] for r in inside]) if inside else None
    s["rps"] = statistics.median([r[2] for r in inside]) if inside else None
    s["n"] = len(inside)
blocks = []
for off, on in zip(stretches[0::2], stretches[1::2]):
    if off["cpu"] and on["cpu"]:
        blocks.append((off, on, on["cpu"] / off["cpu"]))
if not blocks:
    sys.exit("no block had rounds on both sides (the warm-up took them all?): see " + logs)
ratios = sorted(b[2] for b in blocks)
side = lambda name, key: statistics.median([s[key] for b in blocks for s in b[:2] if s["side"] == name])
loads = sorted(s["load"] for b in blocks for s in b[:2])
events = [b[1]["events"] for b in blocks if b[1]["events"] is not None]
print()
print(f"one ASP.NET Core order API server (Release) under load; asynclens watch attached {len(blocks)} times for {stretches[1]['to'] - stretches[1]['from']} ms, "
      f"detached between; {sum(s['n'] for b in blocks for s in b[:2])} rounds of 1 s inside the stretches")
print(f"{'':26}{'server CPU µs/req':>18}{'req/s':>9}")
print(f"{'detached (median)':26}{side('off', 'cpu'):>18.1f}{side('off', 'rps'):>9.0f}")
print(f"{'watch attached (median)':26}{side('on', 'cpu'):>18.1f}{side('on', 'rps'):>9.0f}")
q1, q3 = statistics.quantiles(ratios, n=4)[0::2] if len(ratios) >= 2 else (ratios[0], ratios[0])
print(f"\nserver CPU per request attached/detached, per block: median {statistics.median(ratios):.3f}x ({(statistics.median(ratios) - 1) * 100:+.1f}%), "
      f"quartiles {q1:.3f}x..{q3:.3f}x, all {ratios[0]:.3f}x..{ratios[-1]:.3f}x")
# How far the median could be from the blocks' own noise: a bootstrap of the blocks (resampled 10,000 times).
rng = random.Random(1)
boot = sorted(statistics.median(rng.choices(ratios, k=len(ratios))) for _ in range(10_000))
print(f"95% interval of that median (bootstrap over the blocks): {boot[250]:.3f}x..{boot[9750]:.3f}x: a cost below {max(boot[9750] - 1, 0) * 100:.1f}% is all this run can show")
print("blocks: " + " ".join(f"{r:.3f}" for _, _, r in blocks))
if events:
    print(f"events watch read: median {statistics.median(events):.1f} a second")
print(f"machine load average (1 min) at the stretches' ends: median {statistics.median(loads):.1f}, {loads[0]:.1f}..{loads[-1]:.1f}")
print(f"\nraw results and logs: {logs}   ({elapsed} s)")
PY
