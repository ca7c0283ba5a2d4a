#!/usr/bin/env bash
# How long a process is paused while asynclens reads its pending async work from outside.
#
#   bench/remote-read.sh [READS] [--chains N]          a console target: N chains of two async methods
#   bench/remote-read.sh [READS] --web [--parked N,...] an ASP.NET Core app, idle and with N requests in flight
#
# Builds the CLI (src/AsyncLens.Cli) and the target in Release, starts one target process with nothing of
# AsyncLens in it, and reads it from outside READS times (default 3) per command, alternating. Per read: how long
# asynclens says it had the process paused (--stats, from just before the attach to the detach), how long the
# target saw itself stopped (a thread of its own sleeps 5 ms at a time and notes how late it wakes up: what the
# app felt), how much of its memory was copied, the nodes read, the wall time, and whether the target runs on
# afterwards (kill -0, its state in /proc, and it answers, which a stopped process cannot).
#
# Console (default): bench/AsyncLens.Bench.Remote parks N chains (default 100,000), OuterAsync awaiting
# InnerAsync awaiting one TaskCompletionSource (2N pending tasks); read with `pstree --stats`,
# `ps --format json --stats` and `doctor --stats` (the doctor's one read: tasks, threads and the pool's queue).
# At the end the gate is completed: every chain must then finish. Goal: 100,000
# pending tasks read in under 2 s paused (and not worse than the 1.1 s measured before the snapshot read).
#
# --web: bench/AsyncLens.Bench.Web, the order API of web-overhead.sh, after 500 requests of traffic; for each
# level of --parked (default 0,50,90) that many long polls (GET /orders/{id}/updates) are held in flight by
# bench/lib/long_polls.py, each a chain of Kestrel's and the app's async methods parked in the handler (90 is
# about 1,000 pending tasks); read with `pstree --stats`, `threads --stats` and `doctor --stats`. Goal: under 0.3 s paused, as
# the app felt it, with up to 1,000 pending tasks. The app's longest stall comes from its /stats.
# Needs Linux (ptrace), the .NET SDK, python3 (which prints the table) and, for --web, curl; runs from any directory.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
source "$here/lib/common.sh"
usage="[--chains N | --web [--parked N,N,...]]"
parse_reps "$usage" "${1:-3}"
[[ $# -gt 0 ]] && shift
chains=100000
web=no
parked="0,50,90"
while [[ $# -gt 0 ]]; do
    if [[ "$1" == --chains && "${2:-}" =~ ^[1-9][0-9]*$ ]]; then
        chains="$2"
        shift 2
    elif [[ "$1" == --web ]]; then
        web=yes
        shift
    elif [[ "$1" == --parked && "${2:-}" =~ ^[0-9]+(,[0-9]+)*$ ]]; then
        parked="$2"
        shift 2
    else
        echo "usage: $0 [READS] $usage" >&2
        exit 2
    fi
done
require_tools "it prints the table"
unset_debug_env ASPNETCORE_URLS DOTNET_URLS ASPNETCORE_HTTP_PORTS ASPNETCORE_HTTPS_PORTS ASPNETCORE_ENVIRONMENT DOTNET_ENVIRONMENT

logs="$(mktemp -d "${TMPDIR:-/tmp}/asynclens-remote.XXXXXX")"
cli="$root/artifacts/bin/AsyncLens.Cli/release/asynclens.dll"
results="$logs/results.txt"
: >"$results"

# One read: asynclens COMMAND... --stats into OUT/ERR; sets stats_fields to the --stats figures as key=value.
# asynclens: 706 nodes from 736,392 heap objects; process 23307 paused 0.060 s[ in 2 stops (...)], 59.7 MB copied; read in 1.94 s
asynclens() { # asynclens ARGS...: the CLI; doctor's exit code 1 (it found a problem) is an answer, not a failure
    local code=0
    dotnet "$cli" "$@" || code=$?
    [[ "$1" == doctor && "$code" == 1 ]] && return 0
    return "$code"
}

read_once() { # read_once LABEL OUT ERR COMMAND...
    local label="$1" out="$2" err="$3" start end stats
    shift 3
    start="$(date +%s%N)"
    run_once "asynclens $* ($label)" "$out" "$err" asynclens "$@"
    end="$(date +%s%N)"
    local pattern='^asynclens: ([0-9,]+) nodes from ([0-9,]+) heap objects; process [0-9]+ paused ([0-9.]+) s( in ([0-9]+) stops \([^)]*\))?, ([0-9.]+) MB copied; read in ([0-9.]+) s$'
    stats="$(grep -E "$pattern" "$err" | tail -n 1)" || fail "asynclens $* printed no --stats line:" "$err"
    stats_fields="$(sed -E "s/$pattern/nodes=\1 objects=\2 paused_s=\3 stops=\5 copied_mb=\6 read_s=\7/; s/,//g; s/stops= /stops=1 /" <<<"$stats")"
    stats_fields="$stats_fields wall_ms=$(((end - start) / 1000000)) out_bytes=$(wc -c <"$out")"
}

target_state() { # target_state PID: fails unless the process is there and not stopped; prints its state letter
    kill -0 "$1" 2>/dev/null || fail "the target (pid $1) is gone after a read"
    sed -n 's/^State:[[:space:]]*\([A-Za-z]\).*/\1/p' "/proc/$1/status"
}

if [[ "$web" == no ]]; then
    echo "building src/AsyncLens.Cli and bench/AsyncLens.Bench.Remote (Release)..." >&2
    build_release "$logs/build.log" "$root/src/AsyncLens.Cli/AsyncLens.Cli.csproj" "$here/AsyncLens.Bench.Remote/AsyncLens.Bench.Remote.csproj"
    dll="$root/artifacts/bin/AsyncLens.Bench.Remote/release/AsyncLens.Bench.Remote.dll"

    # The target reads its standard input from a fifo this script holds open on fd 3: `stall` lines ask it
    # for its longest stop since the last one; any other line, or closing fd 3, ends it.
    mkfifo "$logs/target.in"
    dotnet "$dll" --chains "$chains" <"$logs/target.in" >"$logs/target.out" 2>"$logs/target.err" &
    target=$!
    exec 3>"$logs/target.in"
    stop_target() { # on any exit: a target still running is ended (a line, then SIGKILL after 20 s)
        exec 3>&-
        end_process "$target"
    }
    trap stop_target EXIT

    pid=""
    for _ in $(seq 600); do
        pid="$(sed -n 's/^ready \([0-9]*\)$/\1/p' "$logs/target.out")"
        [[ -n "$pid" ]] && break
        kill -0 "$target" 2>/dev/null || fail "the target exited before it was ready:" "$logs/target.out" "$logs/target.err"
        sleep 0.1
    done
    [[ -n "$pid" ]] || fail "the target did not print 'ready <pid>' within 60 s:" "$logs/target.out" "$logs/target.err"
    heap_mb="$(sed -n 's/.*managed heap \([0-9.]*\) MB.*/\1/p' "$logs/target.err")"
    echo "target: pid $pid, $chains chains parked, managed heap ${heap_mb:-?} MB" >&2

    stall() { # prints the target's longest stop, in ms, since the previous call; fails if it does not answer within 30 s
        local before after
        before="$(grep -c '^stall_ms=' "$logs/target.out" || true)"
        echo stall >&3
        for _ in $(seq 300); do
            after="$(grep -c '^stall_ms=' "$logs/target.out" || true)"
            if ((after > before)); then
                sed -n 's/^stall_ms=//p' "$logs/target.out" | tail -n 1
                return 0
            fi
            sleep 0.1
        done
        fail "the target (pid $pid) did not answer on standard input within 30 s (still stopped?); its state: $(grep '^State:' "/proc/$pid/status" 2>/dev/null || echo gone)" "$logs/target.err"
    }

    run() { # run VARIANT REP: one read of the target; a line appended to $results
        local variant="$1" rep="$2"
        local out="$logs/$variant.$rep.out" err="$logs/$variant.$rep.err"
        local command=(pstree "$pid" --stats)
        [[ "$variant" == ps-json ]] && command=(ps "$pid" --format json --stats)
        [[ "$variant" == doctor ]] && command=(doctor "$pid" --stats)
        stall >/dev/null # starts the target's count afresh
        read_once "read $rep" "$out" "$err" "${command[@]}"
        local state stopped_ms pending=0
        state="$(target_state "$pid")"
        stopped_ms="$(stall)"
        [[ "$variant" == pstree ]] && pending="$(sed -n '1s/^asynclens: \([0-9]*\) pending tasks.*/\1/p' "$out")"
        [[ "$variant" == ps-json ]] && rm -f "$out" # tens of MB each; the size is kept
        echo "mode=console variant=$variant rep=$rep chains=$chains $stats_fields stopped_ms=$stopped_ms pending=${pending:-0} state=$state heap_mb=${heap_mb:-0}" >>"$results"
        printf ' %s %s s (target running, %s)' "$variant" "$(sed -n 's/.*paused_s=\([^ ]*\).*/\1/p' <<<"$stats_fields")" "$state" >&2
    }

    interleave "seconds paused" pstree ps-json doctor --

    # The reads must not have broken anything: completing the gate lets every chain finish.
    echo quit >&3
    exec 3>&-
    done_line=""
    for _ in $(seq 600); do
        done_line="$(sed -n 's/^done \([0-9]*\)$/\1/p' "$logs/target.out")"
        [[ -n "$done_line" ]] && break
        kill -0 "$target" 2>/dev/null || break
        sleep 0.1
    done
    wait "$target" || fail "the target failed after the reads:" "$logs/target.out" "$logs/target.err"
    [[ "$done_line" == "$chains" ]] || fail "after the gate was completed, ${done_line:-no} chains of $chains finished:" "$logs/target.out" "$logs/target.err"
    after="the gate completed, $done_line of $chains chains finished"
else
    command -v curl >/dev/null || { echo "$0: curl is not on PATH (--web asks the app for its /stats)" >&2; exit 1; }
    echo "building src/AsyncLens.Cli and bench/AsyncLens.Bench.Web (Release)..." >&2
    build_release "$logs/build.log" "$root/src/AsyncLens.Cli/AsyncLens.Cli.csproj" "$here/AsyncLens.Bench.Web/AsyncLens.Bench.Web.csproj"
    dll="$root/artifacts/bin/AsyncLens.Bench.Web/release/AsyncLens.Bench.Web.dll"

    dotnet "$dll" --port 0 >"$logs/server.out" 2>"$logs/server.err" &
    target=$!
    polls=""
    stop_server() { # on any exit: the long polls closed, the server stopped (SIGTERM, then SIGKILL after 20 s)
        [[ -n "$polls" ]] && { exec 4>&-; wait "$polls" 2>/dev/null || true; }
        kill -TERM "$target" 2>/dev/null || true
        end_process "$target"
    }
    trap stop_server EXIT
    url=""
    for _ in $(seq 300); do
        url="$(sed -n 's/^LISTENING \(http:\/\/127\.0\.0\.1:[0-9]*\)$/\1/p' "$logs/server.out")"
        [[ -n "$url" ]] && break
        kill -0 "$target" 2>/dev/null || fail "the server exited before listening:" "$logs/server.out" "$logs/server.err"
        sleep 0.1
    done
    [[ -n "$url" ]] || fail "the server did not print a 127.0.0.1 address within 30 s:" "$logs/server.out" "$logs/server.err"
    pid="$target"
    stats_field() { # stats_field NAME: one number of the server's /stats (the longest stall resets at each call)
        curl -sf --max-time 30 "$url/stats" | sed -n "s/.*\"$1\":\([-0-9.eE+]*\).*/\1/p"
    }
    # Traffic first, as a service has seen before anyone reads it: 500 requests (its types loaded, its code jitted).
    for i in $(seq 500); do
        curl -sf --max-time 10 -o /dev/null "$url/orders/$i" || fail "GET /orders/$i failed" "$logs/server.err"
    done
    echo "server: pid $pid at $url, after 500 requests" >&2

    IFS=, read -r -a levels <<<"$parked"
    for level in "${levels[@]}"; do
        if ((level > 0)); then
            mkfifo "$logs/polls.$level.in"
            python3 -B "$here/lib/long_polls.py" "$url" "$level" <"$logs/polls.$level.in" >"$logs/polls.$level.out" 2>&1 &
            polls=$!
            exec 4>"$logs/polls.$level.in"
            for _ in $(seq 600); do
                grep -q "^parked $level$" "$logs/polls.$level.out" && break
                kill -0 "$polls" 2>/dev/null || fail "long_polls.py ($level) failed:" "$logs/polls.$level.out"
                sleep 0.1
            done
            grep -q "^parked $level$" "$logs/polls.$level.out" || fail "$level long polls were not parked within 60 s" "$logs/polls.$level.out"
        fi
        echo "$level requests in flight:" >&2
        run() { # run VARIANT REP: one read of the server; a line appended to $results
            local variant="$1" rep="$2"
            local out="$logs/web.$level.$variant.$rep.out" err="$logs/web.$level.$variant.$rep.err"
            stats_field longestStallUs >/dev/null # starts the server's count afresh
            read_once "$level in flight, read $rep" "$out" "$err" "$variant" "$pid" --stats
            local state stall_us pending=0
            state="$(target_state "$pid")"
            stall_us="$(stats_field longestStallUs)" || fail "the server did not answer /stats after a read" "$logs/server.err"
            [[ "$variant" == pstree ]] && pending="$(sed -n '1s/^asynclens: \([0-9]*\) pending tasks.*/\1/p' "$out")"
            echo "mode=web variant=$variant rep=$rep level=$level $stats_fields stopped_ms=$(python3 -c "print($stall_us / 1000)") pending=${pending:-0} state=$state" >>"$results"
            printf ' %s %s s (server running, %s)' "$variant" "$(sed -n 's/.*paused_s=\([^ ]*\).*/\1/p' <<<"$stats_fields")" "$state" >&2
        }
        interleave "seconds paused, $level in flight" pstree threads doctor --
        if ((level > 0)); then
            exec 4>&- # the long polls' connections close: Kestrel cancels the requests
            wait "$polls" || fail "long_polls.py ($level) failed:" "$logs/polls.$level.out"
            polls=""
            for _ in $(seq 300); do
                [[ "$(stats_field longPolls)" == 0 ]] && break
                sleep 0.1
            done
            [[ "$(stats_field longPolls)" == 0 ]] || fail "the server still has long polls waiting 30 s after their clients left" "$logs/server.err"
        fi
    done
    curl -sf --max-time 10 -o /dev/null "$url/orders/1" || fail "the server does not answer after the reads" "$logs/server.err"
    kill -TERM "$target"
    wait "$target" || fail "the server failed after the reads:" "$logs/server.out" "$logs/server.err"
    trap - EXIT
    served="$(sed -n 's/^STATS requests=\([0-9]*\).*/\1/p' "$logs/server.out")"
    after="every long poll's client left and its request ended; the server answered and stopped cleanly (exit 0, $served requests served)"
fi

python3 -B - "$here/lib" "$results" "$logs" "$after" <<'PY'
import sys

sys.path.insert(0, sys.argv[1])
from results import load_runs

results, logs, after = sys.argv[2], sys.argv[3], sys.argv[4]
runs = [run for group in load_runs(results, "variant").values() for run in group]
web = runs[0]["mode"] == "web"
labels = {"pstree": "pstree <pid> --stats", "ps-json": "ps <pid> --format json --stats", "threads": "threads <pid> --stats",
          "doctor": "doctor <pid> --stats"}


def median(values):
    values = sorted(values)
    middle = len(values) // 2
    return values[middle] if len(values) % 2 else (values[middle - 1] + values[middle]) / 2


def size(bytes_):
    return f"{bytes_ / 1e6:.1f} MB" if bytes_ >= 1e6 else f"{bytes_ / 1e3:.0f} KB" if bytes_ >= 1e4 else f"{bytes_} B"


def table(group, title):
    print(title)
    print(f"{'read':4}  {'asynclens':32} {'paused s':>9} {'stopped s':>10} {'stops':>5} {'copied':>9} {'nodes':>9} {'heap objects':>13} {'read s':>7} {'wall s':>7} {'output':>9}  after the read")
    for run in sorted(group, key=lambda r: (int(r["rep"]), r["variant"])):
        print(f"{run['rep']:4}  {labels[run['variant']]:32} {float(run['paused_s']):9.3f} {float(run['stopped_ms']) / 1000:10.3f} {run['stops']:>5} "
              f"{float(run['copied_mb']):6.1f} MB {int(run['nodes']):9,} {int(run['objects']):13,} {float(run['read_s']):7.2f} "
              f"{float(run['wall_ms']) / 1000:7.2f} {size(int(run['out_bytes'])):>9}  running (state {run['state']})")
    for variant in sorted({r["variant"] for r in group}, key=list(labels).index):
        mine = [r for r in group if r["variant"] == variant]
        paused = [float(r["paused_s"]) for r in mine]
        print(f"median  {labels[variant]:32} {median(paused):9.3f} {median(float(r['stopped_ms']) for r in mine) / 1000:10.3f}"
              f"   (paused {min(paused):.3f}..{max(paused):.3f} s; copied {median(float(r['copied_mb']) for r in mine):.1f} MB;"
              f" read {median(float(r['read_s']) for r in mine):.2f} s; wall {median(float(r['wall_ms']) for r in mine) / 1000:.2f} s)")


def felt(group):
    """The pause the app feels, median over the pstree reads: the larger of --stats and the target's own measure."""
    pstree = [r for r in group if r["variant"] == "pstree"]
    return max(median(float(r["paused_s"]) for r in pstree), median(float(r["stopped_ms"]) for r in pstree) / 1000)


print()
if not web:
    first = [r for r in runs if r["variant"] == "pstree"][0]
    chains, pending = int(first["chains"]), int(first["pending"])
    table(runs, f"out-of-process read: {chains:,} chains (OuterAsync -> InnerAsync -> one TaskCompletionSource), {pending:,} pending tasks, "
                f"managed heap {first['heap_mb']} MB; one target process, {len(runs) // 2} reads per command, alternating")
    paused = felt(runs)
    if pending >= 100_000 and paused < 2:
        verdict = "met" + (" (and not worse than the 1.1 s before the snapshot read)" if paused <= 1.1 else ", but above the 1.1 s before the snapshot read")
    elif pending <= 100_000 and paused >= 2:
        verdict = "NOT met"
    else:
        other = "more" if pending > 100_000 else "fewer"
        verdict = f"not shown at this size ({other} than 100,000 tasks; bench/remote-read.sh 3 --chains {chains * 100_000 // pending} reads 100,000)"
    goals = [f"goal: 100,000 pending tasks read in under 2 s paused: {verdict} ({pending:,} pending tasks, pstree paused {paused:.2f} s, median, as the target felt it)"]
else:
    levels = sorted({int(r["level"]) for r in runs})
    goals = []
    for level in levels:
        group = [r for r in runs if int(r["level"]) == level]
        pending = int(median(int(r["pending"]) for r in group if r["variant"] == "pstree"))
        table(group, f"out-of-process read of an ASP.NET Core app (bench/AsyncLens.Bench.Web, after 500 requests): {level} requests in flight, "
                     f"{pending:,} pending tasks; {len(group) // 2} reads per command, alternating")
        print()
        paused = felt(group)
        verdict = "met" if paused < 0.3 else "NOT met" if pending <= 1_000 else "not shown (more than 1,000 pending tasks)"
        goals.append(f"goal: an ASP.NET Core app with up to 1,000 pending tasks paused under 0.3 s: {verdict} "
                     f"({level} requests in flight, {pending:,} pending tasks, pstree paused {paused:.3f} s, median, as the app felt it)")
print("paused s: asynclens --stats (from just before the attach to the detach, summed over its stops); stopped s: the longest")
print("a thread of the target woke up late during the read: what the app felt; stops: more than 1 when a stop fell in a")
print("garbage collection; copied: the target's memory asynclens copied while it was stopped; read s: the whole read")
print()
for goal in goals:
    print(goal)
print(f"after the reads: {after}")
print(f"raw results and logs: {logs}")
PY
