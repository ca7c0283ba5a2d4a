#!/usr/bin/env bash
# The cost of debug mode on a real ASP.NET Core service, switched on with no code change.
#
#   bench/web-overhead.sh [REPETITIONS] [load options...]
#
# Builds the engine (src/AsyncLens), bench/AsyncLens.Bench.Web (a JSON order API on Kestrel) and
# bench/AsyncLens.Bench.Load (the load generator) in Release, then runs REPETITIONS (default 5) pairs
# of fresh server processes, interleaved: debug off, debug on (the order is reversed every other
# repetition). "On" is the startup hook, as for a deployed service: DOTNET_STARTUP_HOOKS=<engine dll>
# ASYNCLENS_DEBUG=1 ASYNCLENS_OUTPUT=<file>; the server is the same build either way. For each
# server the load generator loads it until the JIT has settled (at most 20 s), measures 5 rounds of
# 1 s, and the server is stopped (SIGTERM). The table shows medians per mode and the ratios.
# BENCH_MODES="off on tasks console" adds the task inventory (ASYNCLENS_TASKS=1) and the live console's agent with no
# client (ASYNCLENS_CONSOLE=1), both through the startup hook; console-top: the same agent with
# bench/python/console_poller.py asking once a second what `asynclens top` asks (ps and pool; BENCH_POLL=ps,pool,requests
# for what it asked before it read the requests' ages from ps), from the server's start to its end: the summary adds the CPU the agent's client thread spent per poll.
# BENCH_MODES="net11-off net11-events-only": the server on .NET 11 (DOTNET11_ROOT, default /work/dotnet11), without
# debug mode and with it on the async events alone (ASYNCLENS_STEP_SOURCE=async-events-only), through the startup hook.
# net11-hook-PART: the same server with one part of that debug mode alone, for splitting its cost (bench/AsyncLens.Bench
# as the startup hook, ASYNCLENS_BENCH_HOOK=PART, BenchHook.cs; debug mode off): net11-hook-async-events-ignored@0xMASK (the
# runtime's events for those keywords, buffers ignored), net11-hook-async-events-decoded (decoded and assembled as debug
# mode does), net11-hook-request-frames (hosting's request events from its DiagnosticListener), net11-hook-count@0xMASK
# (events counted by kind, per request in the summary; not a timed figure). net11-events-only-before: debug mode on the
# async events alone with another build of the engine, BENCH_ENGINE_BEFORE=<AsyncLens.Engine.dll> (a change side by side).
# BENCH_MODES="off on-before on" with BENCH_ENGINE_BEFORE=<another build's AsyncLens.Engine.dll>: debug mode with that
# engine beside the working tree's (an engine built at another commit, in Release), and the ratio of the two.
# Load options (--concurrency N, --post-percent N, --warmup-ms N, --min-warmup-ms N, --rounds N,
# --round-ms N) go to every run. Everything listens on and connects to 127.0.0.1 only.
# Needs the .NET SDK (with the ASP.NET Core shared framework) and python3; runs from any directory.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
source "$here/lib/common.sh"
parse_reps "[--concurrency N] [--post-percent N] [--warmup-ms N] [--min-warmup-ms N] [--rounds N] [--round-ms N]" "${1:-}"
[[ $# -gt 0 ]] && shift
require_tools "it prints the table"
# No address setting may move the server off 127.0.0.1 (the server binds 127.0.0.1 in code anyway).
unset_debug_env ASPNETCORE_URLS DOTNET_URLS ASPNETCORE_HTTP_PORTS ASPNETCORE_HTTPS_PORTS ASPNETCORE_ENVIRONMENT DOTNET_ENVIRONMENT

net11="${DOTNET11_ROOT:-/work/dotnet11}"
logs="$(mktemp -d "${TMPDIR:-/tmp}/asynclens-web.XXXXXX")"
started=$SECONDS
echo "building the engine, bench/AsyncLens.Bench.Web and bench/AsyncLens.Bench.Load (Release)..." >&2
build_release "$logs/build.log" "$root/src/AsyncLens/AsyncLens.csproj" \
    "$here/AsyncLens.Bench.Web/AsyncLens.Bench.Web.csproj" "$here/AsyncLens.Bench.Load/AsyncLens.Bench.Load.csproj" \
    "$here/AsyncLens.Bench/AsyncLens.Bench.csproj"
engine="$root/artifacts/bin/AsyncLens/release/AsyncLens.Engine.dll"
web="$root/artifacts/bin/AsyncLens.Bench.Web/release/AsyncLens.Bench.Web.dll"
load="$root/artifacts/bin/AsyncLens.Bench.Load/release/AsyncLens.Bench.Load.dll"
hook="$root/artifacts/bin/AsyncLens.Bench/release/AsyncLens.Bench.dll"
results="$logs/results.txt"
: >"$results"

server=""
stop_server() { # SIGTERM, then SIGKILL if it has not exited after 20 s
    [[ -n "$server" ]] || return 0
    kill -TERM "$server" 2>/dev/null || true
    end_process "$server"
    server=""
}
trap stop_server EXIT

run() { # run MODE REP [load options...]: one fresh server, loaded and measured; a line appended to $results
    local mode="$1" rep="$2"
    shift 2
    local base="$logs/$mode.$rep"
    local reports="$base.reports.txt"
    local start_ms
    start_ms="$(date +%s%3N)"
    : >"$base.server.out" # the address poll below may read it before the server writes it
    local -a host=(dotnet)
    # The server is built for net10.0: rolled forward to .NET 11, the only runtime under that root.
    [[ "$mode" == net11-* ]] && host=(env DOTNET_ROOT="$net11" DOTNET_ROLL_FORWARD=Major "$net11/dotnet")
    if [[ "$mode" == on || "$mode" == on-before || "$mode" == net11-events-only* ]]; then
        # JSON reports carry a timestamp: the summary tells warm-up, timed rounds and shutdown apart.
        : >"$reports"
        local used="$engine"
        [[ "$mode" != *-before ]] || used="${BENCH_ENGINE_BEFORE:?$mode needs BENCH_ENGINE_BEFORE=<AsyncLens.Engine.dll>}"
        [[ -f "$used" ]] || fail "no engine at '$used' ($mode)"
        DOTNET_STARTUP_HOOKS="$used" ASYNCLENS_DEBUG=1 ASYNCLENS_OUTPUT="$reports" ASYNCLENS_FORMAT=json \
            ASYNCLENS_STEP_SOURCE="$([[ "$mode" == net11-events-only* ]] && echo async-events-only)" \
            "${host[@]}" "$web" --port 0 >"$base.server.out" 2>"$base.server.err" &
    elif [[ "$mode" == net11-hook-* ]]; then
        DOTNET_STARTUP_HOOKS="$hook" ASYNCLENS_BENCH_HOOK="${mode#net11-hook-}" \
            "${host[@]}" "$web" --port 0 >"$base.server.out" 2>"$base.server.err" &
    elif [[ "$mode" == tasks ]]; then
        DOTNET_STARTUP_HOOKS="$engine" ASYNCLENS_TASKS=1 dotnet "$web" --port 0 >"$base.server.out" 2>"$base.server.err" &
    elif [[ "$mode" == console || "$mode" == console-top ]]; then
        : >"$base.server.err"
        DOTNET_STARTUP_HOOKS="$engine" ASYNCLENS_CONSOLE=1 dotnet "$web" --port 0 >"$base.server.out" 2>"$base.server.err" &
    else
        "${host[@]}" "$web" --port 0 >"$base.server.out" 2>"$base.server.err" &
    fi
    server=$!
    local poller=""
    if [[ "$mode" == console-top ]]; then
        python3 "$here/python/console_poller.py" "$base.server.err" ${BENCH_POLL:+--commands "$BENCH_POLL"} 2>"$base.poller.err" &
        poller=$!
    fi
    local url=""
    for _ in $(seq 300); do
        url="$(sed -n 's/^LISTENING \(http:\/\/127\.0\.0\.1:[0-9]*\)$/\1/p' "$base.server.out")"
        [[ -n "$url" ]] && break
        kill -0 "$server" 2>/dev/null || fail "the server ($mode, repetition $rep) exited before listening:" "$base.server.out" "$base.server.err"
        sleep 0.1
    done
    [[ -n "$url" ]] || fail "the server ($mode, repetition $rep) did not print a 127.0.0.1 address within 30 s:" "$base.server.out" "$base.server.err"
    if ! dotnet "$load" --url "$url" "$@" >"$base.load.out" 2>"$base.load.err"; then
        fail "the load generator ($mode, repetition $rep) failed:" "$base.load.out" "$base.load.err" "$base.server.err"
    fi
    stop_server
    local line polled=""
    line="$(grep '^RESULT ' "$base.load.out" | tail -n 1)"
    if [[ -n "$poller" ]]; then
        wait "$poller" || fail "the poller failed ($mode, repetition $rep)" "$base.poller.err"
        polled="$(sed -n 's/^console_poller: \(polls=[^ ]* commands=[^ ]* agent_cpu_ms_per_poll=[^ ]*\).*/\1/p' "$base.poller.err")"
        [[ -n "$polled" ]] || fail "the poller said nothing of the agent's CPU ($mode, repetition $rep)" "$base.poller.err"
    fi
    # The server must be in the mode asked for: a hook that did not start would measure nothing.
    grep -q " debug_mode=$([[ $mode == on || $mode == on-before || $mode == net11-events-only* ]] && echo on || echo off) " <<<"$line" \
        || fail "debug mode is not $mode in the server ($mode, repetition $rep); its output:" "$base.server.out" "$base.server.err"
    # Reports in the file, plus anything the engine said about itself on standard error.
    [[ "$mode" != console* ]] || grep -q '^asynclens: console on ' "$base.server.err" \
        || fail "the console's agent did not start ($mode, repetition $rep):" "$base.server.err"
    # A part that saw nothing would measure nothing: its hook says what it saw at exit.
    local part=""
    if [[ "$mode" == net11-hook-* ]]; then
        part="$(sed -n 's/^asynclens-bench: //p' "$base.server.err")"
        grep -Eq '[1-9][0-9]* (buffers|begun)|decoded into steps|total=[1-9]' <<<"$part" \
            || fail "the bench hook saw nothing ($mode, repetition $rep):" "$base.server.out" "$base.server.err"
        part="events_total=$(sed -n 's/.*total=\([0-9]*\).*/\1/p' <<<"$part")"
        [[ "$part" != "events_total=" ]] || part=""
    fi
    local count=0
    [[ "$mode" == on || "$mode" == on-before || "$mode" == net11-events-only* ]] && count=$(( $(grep -c '^{"kind"' "$reports" || true) + $(grep -c '^asynclens:' "$base.server.err" || true) ))
    echo "rep=$rep mode=$mode ${line#RESULT } server_start_ms=$start_ms reports=$count $polled $part" >>"$results"
    [[ "$mode" != net11-hook-count* ]] || sed -n 's/^asynclens-bench: //p; s/^STATS\( requests=[0-9]*\).*/server\1/p' "$base.server.err" "$base.server.out" >"$base.counts.txt"
    printf ' %s %s' "$mode" "$(sed -n 's/.* rps=\([^ ]*\).*/\1/p' <<<"$line")" >&2
}

# shellcheck disable=SC2086
interleave "median requests/s" ${BENCH_MODES:-off on} -- "$@"

# -B: importing bench/lib/results.py must not leave a __pycache__ in the source tree.
python3 -B - "$here/lib" "$results" "$logs" "$((SECONDS - started))" <<'PY'
import collections
import datetime
import json
import os
import sys

sys.path.insert(0, sys.argv[1])
from results import load_runs

results, logs, elapsed = sys.argv[2], sys.argv[3], int(sys.argv[4])
rows = load_runs(results, "mode")
column, med = rows.column, rows.median

def paired(key):
    return rows.paired("on", "off", key)

first = next(iter(rows.values()))[0]
runs = len(next(iter(rows.values())))
print()
print(f"web service: ASP.NET Core order API on Kestrel (127.0.0.1), {first['concurrency']} keep-alive connections, "
      f"{first['post_pct']}% POST /orders + {100 - int(first['post_pct'])}% GET /orders/{{id}};")
print(f"{first['rounds']} x {int(first['round_ms']) / 1000:g} s rounds after the JIT settles; {runs} fresh server processes per row (medians)")
columns = [  # (title, width, value of a mode)
    ("req/s", 7, lambda m: f"{med(m, 'rps'):.0f}"),
    ("min..max of runs", 17, lambda m: f"{min(column(m, 'rps')):.0f}..{max(column(m, 'rps')):.0f}"),
    ("server CPU µs/req", 18, lambda m: f"{med(m, 'cpu_us_per_req'):.1f}"),
    ("p50 ms", 7, lambda m: f"{med(m, 'p50_ms'):.2f}"),
    ("p99 ms", 7, lambda m: f"{med(m, 'p99_ms'):.2f}"),
    ("max ms", 7, lambda m: f"{max(column(m, 'max_ms')):.0f}"),
    ("stall ms", 8, lambda m: f"{max(column(m, 'max_stall_ms')):.0f}"),
    ("GC pause %", 10, lambda m: f"{med(m, 'gc_pause_pct'):.1f}"),
    ("alloc KB/req", 12, lambda m: f"{med(m, 'alloc_kb_per_req'):.1f}"),
    ("warm-up s", 9, lambda m: f"{med(m, 'warmup_s'):.1f}"),
    ("jitted", 6, lambda m: f"{med(m, 'jit_in_rounds'):.0f}"),
    ("unsettled", 9, lambda m: str(rows.unsettled(m))),
    ("reports", 7, lambda m: str(rows.total(m, "reports")) if m in ("on", "on-before") else "-"),
]
print(f"{'':21}" + "".join(f"  {title:>{width}}" for title, width, _ in columns))
for mode, label in (("off", "normal"), ("on-before", "debug, engine before"), ("on", "debug (startup hook)"), ("tasks", "inventory (hook)"), ("console", "console, no client"),
                    ("console-top", "console, top polling"), ("net11-off", ".NET 11 normal"), ("net11-events-only", ".NET 11 debug, events")):
    if mode in rows:
        print(f"{label:21}" + "".join(f"  {value(mode):>{width}}" for _, width, value in columns))
for mode in rows:
    if mode.startswith("net11-hook-") or mode == "net11-events-only-before":
        print(f"{mode.replace('net11-hook-', '').replace('net11-events-only-', 'debug, events, ')[:21]:21}" + "".join(f"  {value(mode):>{width}}" for _, width, value in columns))

def ratio(key):
    return med("on", key) / med("off", key)

if "console" in rows and "tasks" in rows:
    same = rows.paired("console", "tasks", "cpu_us_per_req")
    normal = (f"; console/normal: server CPU per request {med('console', 'cpu_us_per_req') / med('off', 'cpu_us_per_req'):.2f}x"
              if "off" in rows else "")
    print(f"\nconsole/inventory: throughput {med('console', 'rps') / med('tasks', 'rps'):.2f}x, server CPU per request "
          f"{med('console', 'cpu_us_per_req') / med('tasks', 'cpu_us_per_req'):.2f}x (same-repetition {min(same):.2f}x..{max(same):.2f}x){normal}")

if "console-top" in rows and "console" in rows:
    agent = column("console-top", "agent_cpu_ms_per_poll")
    same = rows.paired("console-top", "console", "cpu_us_per_req")
    print(f"\nconsole-top/console: server CPU per request {med('console-top', 'cpu_us_per_req') / med('console', 'cpu_us_per_req'):.3f}x "
          f"({med('console-top', 'cpu_us_per_req') - med('console', 'cpu_us_per_req'):+.1f} µs; same-repetition {min(same):.3f}x..{max(same):.3f}x), "
          f"throughput {med('console-top', 'rps') / med('console', 'rps'):.2f}x")
    print(f"the poller asked {rows['console-top'][0]['commands']} each second; the agent's client thread spent "
          f"{sorted(agent)[len(agent) // 2]:.1f} ms of CPU per poll (min..max {min(agent):.1f}..{max(agent):.1f}): "
          f"{sorted(agent)[len(agent) // 2] * 1000 / med('console-top', 'rps'):.1f} µs per request at the median req/s")

if "net11-events-only" in rows and "net11-off" in rows:
    same = rows.paired("net11-events-only", "net11-off", "cpu_us_per_req")
    print(f"\n.NET 11, debug mode on the async events alone/normal: server CPU per request "
          f"{med('net11-events-only', 'cpu_us_per_req') / med('net11-off', 'cpu_us_per_req'):.3f}x (same-repetition "
          f"{min(same):.3f}x..{max(same):.3f}x), throughput {med('net11-events-only', 'rps') / med('net11-off', 'rps'):.2f}x, "
          f"reports {rows.total('net11-events-only', 'reports')}")

if "net11-off" in rows:
    base = med("net11-off", "cpu_us_per_req")
    for mode in rows:
        if mode.startswith("net11-") and mode != "net11-off":
            same = rows.paired(mode, "net11-off", "cpu_us_per_req")
            print(f"{mode}/net11-off: server CPU per request {med(mode, 'cpu_us_per_req') / base:.3f}x "
                  f"({med(mode, 'cpu_us_per_req') - base:+.1f} µs; same-repetition {min(same):.3f}x..{max(same):.3f}x, "
                  f"median {sorted(same)[len(same) // 2]:.3f}x), alloc KB/req {med(mode, 'alloc_kb_per_req') - med('net11-off', 'alloc_kb_per_req'):+.2f}")
            if "events_total" in rows[mode][0]:
                # The first run's counts over every request it served (warm-up included: startup's events are a few hundred).
                text = open(os.path.join(logs, f"{mode}.{rows[mode][0]['rep']}.counts.txt"), encoding="utf-8").read()
                served = int(text.split("server requests=")[1].split()[0])
                counts = [token.split("=") for token in text.split(" by kind: ")[1].split("\n")[0].split()]
                print(f"  events per request ({served} requests): " + ", ".join(f"{kind} {int(n) / served:.2f}" for kind, n in counts))

if "net11-events-only-before" in rows and "net11-events-only" in rows:
    same = rows.paired("net11-events-only", "net11-events-only-before", "cpu_us_per_req")
    print(f"debug mode on the async events alone, this engine/BENCH_ENGINE_BEFORE: server CPU per request "
          f"{med('net11-events-only', 'cpu_us_per_req') / med('net11-events-only-before', 'cpu_us_per_req'):.3f}x "
          f"(same-repetition {min(same):.3f}x..{max(same):.3f}x, median {sorted(same)[len(same) // 2]:.3f}x)")

if "on-before" in rows and "on" in rows:
    same = rows.paired("on", "on-before", "cpu_us_per_req")
    off = (f"; debug/normal: before {med('on-before', 'cpu_us_per_req') / med('off', 'cpu_us_per_req'):.3f}x, "
           f"after {med('on', 'cpu_us_per_req') / med('off', 'cpu_us_per_req'):.3f}x" if "off" in rows else "")
    print(f"\nengine after/before: server CPU per request {med('on', 'cpu_us_per_req') / med('on-before', 'cpu_us_per_req'):.3f}x "
          f"(same-repetition {min(same):.3f}x..{max(same):.3f}x), throughput {med('on', 'rps') / med('on-before', 'rps'):.3f}x{off}")

if "on" not in rows or "off" not in rows:
    print(f"\nraw results and logs: {logs}   ({elapsed} s)")
    sys.exit(0)
throughput, cpu = ratio("rps"), ratio("cpu_us_per_req")
print()
print(f"throughput debug/normal = {throughput:.2f}x ({(throughput - 1) * 100:+.0f}% requests/s)   "
      f"server CPU per request debug/normal = {cpu:.2f}x ({(cpu - 1) * 100:+.0f}%)")
print(f"latency debug/normal: p50 {ratio('p50_ms'):.2f}x, p99 {ratio('p99_ms'):.2f}x")
same = {key: paired(key) for key in ("rps", "cpu_us_per_req", "p99_ms")}
print(f"(same-repetition ratios: throughput {min(same['rps']):.2f}x..{max(same['rps']):.2f}x, "
      f"server CPU/req {min(same['cpu_us_per_req']):.2f}x..{max(same['cpu_us_per_req']):.2f}x, "
      f"p99 {min(same['p99_ms']):.2f}x..{max(same['p99_ms']):.2f}x; "
      f"load generator CPU µs/req: normal {med('off', 'driver_cpu_us_per_req'):.1f}, debug {med('on', 'driver_cpu_us_per_req'):.1f})")
print("(max ms: the longest request in any run; stall ms: the longest a sleeping thread of the server woke up late in any"
      f" run (GC, CPU or vCPU taken away); longest GC pause: normal {max(column('off', 'max_gc_pause_ms')):.0f} ms,"
      f" debug {max(column('on', 'max_gc_pause_ms')):.0f} ms; warm-up s: until the JIT settled in server and load generator;"
      " jitted: methods the server compiled during the timed rounds)")
print("Server and load generator share the machine's cores, so requests/s and latency also depend on how the two")
print("split the CPU; server CPU µs per request (process CPU time over requests served) is the steadier figure.")

failed = sum(rows.total(mode, "errors") for mode in rows)
if failed:
    print(f"\nWARNING: {failed} request(s) failed; see {logs}/*.load.err")

def where(location):
    return f"{location['file'].rsplit('/', 1)[-1]}:{location['line']}" if location and location.get("file") else "?"

reported = rows.total("on", "reports")
if reported:
    # Each report as its text form's first line, where it points, and when: in the warm-up (startup
    # included), in the timed rounds, or after them (shutdown). The files keep the full JSON.
    phases = collections.Counter()
    printed = []
    for r in rows["on"]:
        path = os.path.join(logs, f"on.{r['rep']}.reports.txt")
        lines = open(path, encoding="utf-8", errors="replace").read().splitlines() if os.path.exists(path) else []
        for line in lines:
            if not line.startswith('{"kind"'):
                continue
            report = json.loads(line)
            at = datetime.datetime.fromisoformat(report["timestamp"].replace("Z", "+00:00")).timestamp() * 1000
            phase = "warm-up" if at < int(r["rounds_from_ms"]) else "timed rounds" if at <= int(r["rounds_to_ms"]) else "shutdown"
            phases[phase] += 1
            detail = []
            if report.get("location"):
                detail.append(f"at {where(report['location'])}")
            if report.get("resumedAt"):
                detail.append(f"ran {where(report['resumedAt'])} -> {where(report.get('stoppedAt'))}")
            detail.append(f"fix: {report['fix']}")
            printed.append(f"  [run {r['rep']}, {phase}, {(at - int(r['server_start_ms'])) / 1000:.1f} s after start] "
                           f"asynclens: {report['kind']}: {report['message']}\n      {'; '.join(detail)}")
        err = open(os.path.join(logs, f"on.{r['rep']}.server.err"), encoding="utf-8", errors="replace").read()
        for line in err.splitlines():
            if line.startswith("asynclens:"):
                phases["engine message"] += 1
                printed.append(f"  [run {r['rep']}, standard error] {line}")
    print(f"\nWARNING: debug mode made {reported} report(s) on this healthy service ("
          + ", ".join(f"{n} in {phase}" if phase != "engine message" else f"{n} engine message(s)" for phase, n in phases.most_common()) + "):")
    limit = 60
    print("\n".join(printed[:limit]))
    if len(printed) > limit:
        print(f"  ... {len(printed) - limit} more")
    print(f"(full JSON reports: {logs}/on.*.reports.txt)")
print(f"\nraw results and logs: {logs}   ({elapsed} s)")
PY
