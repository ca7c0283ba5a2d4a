#!/usr/bin/env bash
# What `asynclens watch` costs the process it watches, in parts (issue 18: <= 1% server CPU per request), where the
# paired wall measurement alone (bench/watch-paired.sh) cannot resolve 1% on this shared 2-core machine.
#
#   bench/watch-cost.sh [BLOCKS] [--block-s N] [--warm-s N] [load options for bench/watch-paired.sh...]
#
# What watch makes the target do is write the events of its EventPipe session (src/AsyncLens.Cli/Remote/
# RuntimeSignals.cs: the runtime's Contention, Threading and WaitHandle keywords at Verbose, and the System.Runtime
# counters once a second; no stacks, no rundown) and flush them to watch. So:
#   1. the session's fixed cost: an idle process (bench/AsyncLens.Bench `waits off --threads 0`), watch attached for
#      N s and detached for N s, BLOCKS times (default 12, N = 4: bench/lib/watch_blocks.sh, after a first attach of
#      --warm-s, default 40 s, not counted: the JIT compiling and tiering up the session's code in the process, its cost printed apart);
#      its CPU per second (the process's own count, every thread's), attached minus the mean of the detached stretches
#      either side; and the CPU of attaching and of detaching (the rounds around them, over the idle rate);
#   2. the cost of one event written: the same with 2 threads each waiting 1 ms again and again on an event nobody sets
#      (each wait raises WaitHandleWait/Start and /Stop into the session, as the server's events go: the runtime's
#      managed event source, then EventPipe); its extra CPU per second attached, less the fixed cost, over the extra
#      events a second watch read (by name, on its exit);
#   3. the server under load: bench/watch-paired.sh BLOCKS*2 (the events watch read there a second, by name, its
#      requests a second and CPU per request, and its own paired ratio);
# then the derived cost: (fixed + per event x (the server's events a second - the idle process's)) / requests a second,
# as a share of the server's CPU per request, with a 95% bootstrap interval over parts 1 and 2's blocks. Everything
# listens on and connects to 127.0.0.1 only. Run it under `flock /tmp/asynclens-heavy.lock`.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
source "$here/lib/common.sh"
source "$here/lib/watch_blocks.sh"
parse_reps "[--block-s N] [--warm-s N] [load options...]" "${1:-12}"
[[ $# -gt 0 ]] && shift
block_s=4
warm_s=40
while [[ "${1:-}" =~ ^--(block-s|warm-s)$ ]]; do
    [[ "${2:-}" =~ ^[1-9][0-9]*$ ]] || { echo "$0: $1 takes a number of seconds" >&2; exit 2; }
    [[ "$1" == --block-s ]] && block_s="$2" || warm_s="$2"
    shift 2
done
require_tools "it prints the figures"
unset_debug_env

logs="$(mktemp -d "${TMPDIR:-/tmp}/asynclens-watch-cost.XXXXXX")"
started=$SECONDS
echo "building src/AsyncLens.Cli and bench/AsyncLens.Bench (Release)..." >&2
build_release "$logs/build.log" "$root/src/AsyncLens.Cli/AsyncLens.Cli.csproj" "$here/AsyncLens.Bench/AsyncLens.Bench.csproj"
cli="$root/artifacts/bin/AsyncLens.Cli/release/asynclens.dll"
dll="$root/artifacts/bin/AsyncLens.Bench/release/AsyncLens.Bench.dll"

target=""
watcher=""
stop_all() {
    for p in "$watcher" "$target"; do
        [[ -n "$p" ]] && { kill -TERM "$p" 2>/dev/null || true; end_process "$p"; }
    done
    watcher=""
    target=""
}
trap stop_all EXIT

for threads in 0 2; do
    dir="$logs/threads-$threads"
    mkdir -p "$dir"
    echo "part $((threads / 2 + 1)) of 3: $reps blocks, a process with $threads waiting threads..." >&2
    dotnet "$dll" waits off --threads "$threads" --seconds 100000 >"$dir/rounds.txt" 2>"$dir/target.err" &
    target=$!
    # Its first rounds are its start-up's (JIT): the blocks begin 3 s in.
    sleep 3
    watch_blocks "$cli" "$target" "$block_s" "$warm_s" "$dir" fewer_blocks_than "$reps" "$dir"
    kill -TERM "$target"
    end_process "$target"
    target=""
done

echo "part 3 of 3: the server under load (bench/watch-paired.sh $((reps * 2)))..." >&2
"$here/watch-paired.sh" "$((reps * 2))" --warm-s "$warm_s" "$@" >"$logs/paired.txt" 2>"$logs/paired.err" || fail "bench/watch-paired.sh failed:" "$logs/paired.err" "$logs/paired.txt"
paired="$(sed -n 's/^raw results and logs: \([^ ]*\) .*/\1/p' "$logs/paired.txt")"

python3 -B - "$here/lib" "$logs" "$paired" "$((SECONDS - started))" <<'PY'
import json, random, statistics, sys
sys.path.insert(0, sys.argv[1])
import watch_blocks as wb

logs, paired, elapsed = sys.argv[2], sys.argv[3], int(sys.argv[4])


def part(threads):
    d = f"{logs}/threads-{threads}"
    rounds, previous = [], None
    for line in open(f"{d}/rounds.txt", encoding="utf-8"):
        f = line.split()
        if f[0] != "ROUND":
            continue
        end, waits, cpu = int(f[1]), int(f[2]), float(f[3])
        if previous is not None:
            rounds.append((previous, end, waits, cpu))
        previous = end
    warm, stretches = wb.stretches(d)
    wb.count_rounds(stretches, rounds)
    blocks = []
    for on, offs, _ in wb.blocks(stretches, "ms"):
        if on["events"] is None:
            continue
        off_rate = statistics.mean(o["cpu"] / o["ms"] for o in offs)  # µs of CPU per ms
        blocks.append({"extra_us_s": (on["cpu"] / on["ms"] - off_rate) * 1000, "events_s": on["events"] / on["watched_s"],
                       "waits_s": on["work"] / on["ms"] * 1000, "off_us_s": off_rate * 1000, "on": on, "offs": offs,
                       "by_name": on["by_name"], "watched_s": on["watched_s"]})
    # Attaching and detaching: the rounds from watch's launch to 1 s after its session opened, and from its end to 1 s
    # after (the steady state's rounds begin 1 s into a stretch), over the idle rate of the detached stretches beside
    # them; the attaching window holds up to 1 s of the attached steady state too (its fixed cost, part 1).
    edges = {"attach": [], "detach": []}
    for b in blocks:
        on, rate = b["on"], b["off_us_s"] / 1000
        for name, lo, hi in (("attach", on["launched"], on["from"] + 1000), ("detach", on["to"], on["to"] + 1000)):
            inside = [r for r in rounds if r[1] > lo and r[0] < hi]
            if inside:
                edges[name].append(sum(r[3] for r in inside) - rate * sum(r[1] - r[0] for r in inside))
    # The first attach of the process, over what the same time attached costs once warm (part 1's fixed cost, added by
    # the caller): the JIT compiling the session's code in it, once per process.
    if warm is not None and blocks:
        inside = [r for r in rounds if r[1] > warm["launched"] and r[0] < warm["to"] + 1000]
        warm["excess_us"] = sum(r[3] for r in inside) - statistics.median(b["off_us_s"] for b in blocks) / 1000 * sum(r[1] - r[0] for r in inside)
        warm["span_ms"] = sum(r[1] - r[0] for r in inside)
    return blocks, edges, stretches, warm


idle, edges, idle_stretches, warm = part(0)
waits, _, wait_stretches, _ = part(2)
if len(idle) < 3 or len(waits) < 3:
    sys.exit(f"too few blocks with rounds on both sides (idle {len(idle)}, waits {len(waits)}): see {logs}")
server = json.load(open(f"{paired}/summary.json", encoding="utf-8"))
server_events_s = sum(server["events_by_name"].values()) / server["watched_s"]


def figures(idle_blocks, wait_blocks):
    fixed = statistics.median(b["extra_us_s"] for b in idle_blocks)
    idle_events = statistics.median(b["events_s"] for b in idle_blocks)
    per_event = (statistics.median(b["extra_us_s"] for b in wait_blocks) - fixed) / (statistics.median(b["events_s"] for b in wait_blocks) - idle_events)
    derived = (fixed + per_event * max(server_events_s - idle_events, 0)) / server["rps_on"]
    return fixed, idle_events, per_event, derived, derived / server["cpu_us_per_req_off"]


fixed, idle_events, per_event, derived, share = figures(idle, waits)
rng = random.Random(1)
boot = sorted(figures(rng.choices(idle, k=len(idle)), rng.choices(waits, k=len(waits))) for _ in range(4000))
span = lambda i: (sorted(x[i] for x in boot)[100], sorted(x[i] for x in boot)[3899])

print()
print(f"1. the session's fixed cost, an idle process, watch attached {len(idle)} times ({statistics.median(b['on']['ms'] for b in idle) / 1000:.1f} s of rounds each):")
print(f"   detached {statistics.median(b['off_us_s'] for b in idle):.0f} µs of CPU a second; attached +{fixed:.0f} µs a second "
      f"(95%: {span(0)[0]:.0f}..{span(0)[1]:.0f}), {idle_events:.1f} events a second: "
      + ", ".join(f"{n} {c / sum(b['watched_s'] for b in idle):.1f}" for n, c in sorted(
          {n: sum(b['by_name'].get(n, 0) for b in idle) for b in idle for n in b['by_name']}.items(), key=lambda kv: -kv[1])))
if warm is not None and "span_ms" in warm:
    print(f"   the first attach of the process: {(warm['excess_us'] - fixed * warm['span_ms'] / 1000) / 1000:.0f} ms of CPU over its first {warm['span_ms'] / 1000:.0f} s "
          f"beyond the steady cost (the JIT compiling and tiering up the session's code, once per process)")
for name, values in edges.items():
    if values:
        print(f"   {name}ing: {statistics.median(values) / 1000:.1f} ms of CPU (median of {len(values)}, {min(values) / 1000:.1f}..{max(values) / 1000:.1f})")
print(f"2. one event written: 2 threads waiting 1 ms ({statistics.median(b['waits_s'] for b in waits):.0f} waits a second), watch attached {len(waits)} times:")
print(f"   detached {statistics.median(b['off_us_s'] for b in waits):.0f} µs of CPU a second; attached +{statistics.median(b['extra_us_s'] for b in waits):.0f} µs a second "
      f"for {statistics.median(b['events_s'] for b in waits):.0f} events a second "
      f"(WaitHandleWait {statistics.median((b['by_name'].get('WaitHandleWait/Start', 0) + b['by_name'].get('WaitHandleWait/Stop', 0)) / b['watched_s'] for b in waits):.0f}: "
      f"{statistics.median((b['by_name'].get('WaitHandleWait/Start', 0) + b['by_name'].get('WaitHandleWait/Stop', 0)) / b['watched_s'] / b['waits_s'] for b in waits):.2f} a wait)")
print(f"   {per_event:.2f} µs of CPU per event (95%: {span(2)[0]:.2f}..{span(2)[1]:.2f})")
print(f"3. the server under load ({server['blocks']} blocks): {server['rps_on']:.0f} req/s, {server['cpu_us_per_req_off']:.2f} µs of CPU per request detached, "
      f"{server_events_s:.1f} events a second attached ({server_events_s / server['rps_on']:.5f} per request): "
      + ", ".join(f"{n} {c / server['watched_s']:.1f}" for n, c in sorted(server["events_by_name"].items(), key=lambda kv: -kv[1])))
print(f"   paired wall measurement: attached/detached median {server['ratio_median']:.4f}x, 95% {server['ratio_interval'][0]:.4f}x..{server['ratio_interval'][1]:.4f}x; "
      f"incidents written: {server['incidents']} (signals dismissed by the doctor: {server['dismissed']})")
print(f"\nderived: watch costs the server {derived * 1000:.1f} ns of CPU per request (95%: {span(3)[0] * 1000:.1f}..{span(3)[1] * 1000:.1f}): "
      f"{share * 100:.3f}% of its CPU per request (95%: {span(4)[0] * 100:.3f}%..{span(4)[1] * 100:.3f}%)")
print(f"machine load average (1 min) at the stretches' ends: idle part {wb.loads(idle_stretches)}; waits part {wb.loads(wait_stretches)}; server part {server['load']}")
print(f"\nraw results and logs: {logs} and {paired}   ({elapsed} s)")
PY
