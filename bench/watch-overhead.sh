#!/usr/bin/env bash
# The cost of `asynclens watch` attached to a healthy ASP.NET Core service under load (issue 18: <= 1% server CPU per request).
#
#   bench/watch-overhead.sh [REPETITIONS] [load options...]
#
# Builds the CLI (src/AsyncLens.Cli), bench/AsyncLens.Bench.Web (a JSON order API on Kestrel) and
# bench/AsyncLens.Bench.Load (the load generator) in Release, then runs REPETITIONS (default 5) pairs of fresh
# server processes, interleaved: alone; with `asynclens watch PID -o FILE` attached from the moment it listens (its
# EventPipe session: the runtime's thread-pool, wait-handle and contention events and the System.Runtime counters;
# nothing of AsyncLens loaded in the server); and with the in-process watchdog (DOTNET_STARTUP_HOOKS=<engine>
# ASYNCLENS_WATCH=1 ASYNCLENS_WATCH_OUTPUT=<file>). The load generator loads it
# until the JIT has settled (at most 20 s), measures 5 rounds of 1 s; then watch and the server get SIGTERM.
# The table shows medians per mode and the ratios; "incidents" counts what was written (a healthy service: none).
# Load options as for bench/web-overhead.sh. Everything listens on and connects to 127.0.0.1 only.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
source "$here/lib/common.sh"
source "$here/lib/watch_blocks.sh"
parse_reps "[--concurrency N] [--post-percent N] [--warmup-ms N] [--min-warmup-ms N] [--rounds N] [--round-ms N]" "${1:-}"
[[ $# -gt 0 ]] && shift
require_tools "it prints the table"
unset_debug_env ASPNETCORE_URLS DOTNET_URLS ASPNETCORE_HTTP_PORTS ASPNETCORE_HTTPS_PORTS ASPNETCORE_ENVIRONMENT DOTNET_ENVIRONMENT

logs="$(mktemp -d "${TMPDIR:-/tmp}/asynclens-watch.XXXXXX")"
started=$SECONDS
echo "building src/AsyncLens.Cli, bench/AsyncLens.Bench.Web and bench/AsyncLens.Bench.Load (Release)..." >&2
build_release "$logs/build.log" "$root/src/AsyncLens.Cli/AsyncLens.Cli.csproj" \
    "$here/AsyncLens.Bench.Web/AsyncLens.Bench.Web.csproj" "$here/AsyncLens.Bench.Load/AsyncLens.Bench.Load.csproj"
cli="$root/artifacts/bin/AsyncLens.Cli/release/asynclens.dll"
engine="$root/artifacts/bin/AsyncLens/release/AsyncLens.Engine.dll"
web="$root/artifacts/bin/AsyncLens.Bench.Web/release/AsyncLens.Bench.Web.dll"
load="$root/artifacts/bin/AsyncLens.Bench.Load/release/AsyncLens.Bench.Load.dll"
results="$logs/results.txt"
: >"$results"

server=""
watcher=""
stop_all() {
    if [[ -n "$watcher" ]]; then
        kill -TERM "$watcher" 2>/dev/null || true
        end_process "$watcher"
        watcher=""
        events_per_s="$(sed -n 's/.* events read (\([0-9.]*\) a second).*/\1/p' "$base.watch.err" | tail -n 1)"
    fi
    if [[ -n "$server" ]]; then
        kill -TERM "$server" 2>/dev/null || true
        end_process "$server"
        server=""
    fi
}
trap stop_all EXIT

cpu_ms() { # cpu_ms PID: the process's user+system time so far, in ms (utime and stime are fields 14 and 15, in ticks)
    awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); print ($12 + $13) * 1000 / hz }' "/proc/$1/stat"
}

run() { # run MODE REP [load options...]: one fresh server, loaded and measured; a line appended to $results
    local mode="$1" rep="$2"
    shift 2
    local base="$logs/$mode.$rep"
    : >"$base.server.out"
    : >"$base.incidents"
    if [[ "$mode" == hook ]]; then
        DOTNET_STARTUP_HOOKS="$engine" ASYNCLENS_WATCH=1 ASYNCLENS_WATCH_OUTPUT="$base.incidents" \
            dotnet "$web" --port 0 >"$base.server.out" 2>"$base.server.err" &
    else
        dotnet "$web" --port 0 >"$base.server.out" 2>"$base.server.err" &
    fi
    server=$!
    local url=""
    for _ in $(seq 300); do
        url="$(sed -n 's/^LISTENING \(http:\/\/127\.0\.0\.1:[0-9]*\)$/\1/p' "$base.server.out")"
        [[ -n "$url" ]] && break
        kill -0 "$server" 2>/dev/null || fail "the server ($mode, repetition $rep) exited before listening:" "$base.server.out" "$base.server.err"
        sleep 0.1
    done
    [[ -n "$url" ]] || fail "the server ($mode, repetition $rep) did not print a 127.0.0.1 address within 30 s:" "$base.server.out" "$base.server.err"
    local incidents=0 watch_ms=0 events_per_s=0
    if [[ "$mode" == watch ]]; then
        start_watch "$cli" "$server" "$base.incidents" "$base.watch.err" "repetition $rep"
    fi
    if ! dotnet "$load" --url "$url" "$@" >"$base.load.out" 2>"$base.load.err"; then
        fail "the load generator ($mode, repetition $rep) failed:" "$base.load.out" "$base.load.err" "$base.server.err"
    fi
    if [[ -n "$watcher" ]]; then
        kill -0 "$watcher" 2>/dev/null || fail "asynclens watch (repetition $rep) ended during the load:" "$base.watch.err"
        watch_ms="$(cpu_ms "$watcher")"
        kill -TERM "$watcher" # not INT: a script run in the background has SIGINT ignored, and its children with it
        end_process "$watcher"
        watcher=""
        events_per_s="$(sed -n 's/.* events read (\([0-9.]*\) a second).*/\1/p' "$base.watch.err" | tail -n 1)"
    fi
    incidents=$(grep -c 'incident .* began ' "$base.incidents" || true)
    stop_all
    local line load
    line="$(grep '^RESULT ' "$base.load.out" | tail -n 1)"
    load="$(cut -d' ' -f1 /proc/loadavg)" # the machine is shared: the 1-minute load average as the run ended
    echo "rep=$rep mode=$mode ${line#RESULT } incidents=$incidents watch_cpu_ms=$watch_ms events_per_s=${events_per_s:-0} load=$load" >>"$results"
    printf ' %s %s' "$mode" "$(sed -n 's/.* rps=\([^ ]*\).*/\1/p' <<<"$line")" >&2
}

interleave "median requests/s" off watch hook -- "$@"

python3 -B - "$here/lib" "$results" "$logs" "$((SECONDS - started))" <<'PY'
import sys

sys.path.insert(0, sys.argv[1])
from results import load_runs

results, logs, elapsed = sys.argv[2], sys.argv[3], int(sys.argv[4])
rows = load_runs(results, "mode")
column, med = rows.column, rows.median
first = rows["off"][0]
print()
print(f"web service: ASP.NET Core order API on Kestrel (127.0.0.1), {first['concurrency']} keep-alive connections, "
      f"{first['post_pct']}% POST /orders + {100 - int(first['post_pct'])}% GET /orders/{{id}};")
print(f"{first['rounds']} x {int(first['round_ms']) / 1000:g} s rounds after the JIT settles; {len(rows['off'])} fresh server processes per row (medians)")
columns = [
    ("req/s", 7, lambda m: f"{med(m, 'rps'):.0f}"),
    ("min..max of runs", 17, lambda m: f"{min(column(m, 'rps')):.0f}..{max(column(m, 'rps')):.0f}"),
    ("server CPU µs/req", 18, lambda m: f"{med(m, 'cpu_us_per_req'):.1f}"),
    ("p50 ms", 7, lambda m: f"{med(m, 'p50_ms'):.2f}"),
    ("p99 ms", 7, lambda m: f"{med(m, 'p99_ms'):.2f}"),
    ("unsettled", 9, lambda m: str(rows.unsettled(m))),
    ("incidents", 9, lambda m: str(rows.total(m, "incidents")) if m != "off" else "-"),
]
print(f"{'':21}" + "".join(f"  {title:>{width}}" for title, width, _ in columns))
for mode, label in (("off", "alone"), ("watch", "asynclens watch on it"), ("hook", "ASYNCLENS_WATCH=1")):
    print(f"{label:21}" + "".join(f"  {value(mode):>{width}}" for _, width, value in columns))

def ratio(mode, key):
    return med(mode, key) / med("off", key)

print()
for mode, label in (("watch", "watched/alone"), ("hook", "watchdog/alone")):
    same = rows.paired(mode, "off", "cpu_us_per_req")
    cpu = ratio(mode, "cpu_us_per_req")
    print(f"server CPU per request {label} = {cpu:.3f}x ({(cpu - 1) * 100:+.1f}%; same-repetition ratios {min(same):.3f}x..{max(same):.3f}x)   "
          f"throughput {ratio(mode, 'rps'):.2f}x   p99 {ratio(mode, 'p99_ms'):.2f}x")
print(f"asynclens watch's own CPU over a whole run (warm-up, rounds): median {med('watch', 'watch_cpu_ms'):.0f} ms; "
      f"events it read: median {med('watch', 'events_per_s'):.1f} a second")
loads = [float(run["load"]) for runs in rows.values() for run in runs]
print(f"machine load average (1 min) as each run ended: median {sorted(loads)[len(loads) // 2]:.1f}, {min(loads):.1f}..{max(loads):.1f}")
print("incidents: what was written (a signal the doctor, or the watchdog's capture, found nothing stuck behind is not one)")
print(f"\nraw results and logs: {logs}   ({elapsed} s)")
PY
