#!/usr/bin/env bash
# How long a process is paused while asynclens reads its pending async work from outside.
#
#   bench/remote-read.sh [READS] [--chains N]
#
# Builds the CLI (src/AsyncLens.Cli) and bench/AsyncLens.Bench.Remote in Release, then starts one target
# process: N chains (default 100,000) of two async methods, OuterAsync awaiting InnerAsync awaiting one
# TaskCompletionSource that never completes (2N pending tasks), with nothing of AsyncLens in it. It reads
# the target READS times (default 3) with `asynclens pstree <pid> --stats` and as often with `asynclens ps
# <pid> --format json --stats`, alternating. Per read: how long asynclens says it had the process paused
# (--stats), how long the target saw itself stopped (a thread of its own sleeps 5 ms at a time and notes
# how late it wakes up; this includes the attach, which --stats does not count), the nodes read, and
# whether the target runs on afterwards (kill -0, its state in /proc, and it answers on standard input).
# The table shows the medians next to the issue's goal (100,000 pending tasks read in under 2 s paused).
# At the end the gate is completed: every chain must then finish.
# Needs Linux (ptrace), the .NET SDK and python3 (which prints the table); runs from any directory.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
source "$here/lib/common.sh"
usage="[--chains N]"
parse_reps "$usage" "${1:-3}"
[[ $# -gt 0 ]] && shift
chains=100000
while [[ $# -gt 0 ]]; do
    if [[ "$1" == --chains && "${2:-}" =~ ^[1-9][0-9]*$ ]]; then
        chains="$2"
        shift 2
    else
        echo "usage: $0 [READS] $usage" >&2
        exit 2
    fi
done
require_tools "it prints the table"
unset_debug_env

logs="$(mktemp -d "${TMPDIR:-/tmp}/asynclens-remote.XXXXXX")"
echo "building src/AsyncLens.Cli and bench/AsyncLens.Bench.Remote (Release)..." >&2
build_release "$logs/build.log" "$root/src/AsyncLens.Cli/AsyncLens.Cli.csproj" "$here/AsyncLens.Bench.Remote/AsyncLens.Bench.Remote.csproj"
cli="$root/artifacts/bin/AsyncLens.Cli/release/asynclens.dll"
dll="$root/artifacts/bin/AsyncLens.Bench.Remote/release/AsyncLens.Bench.Remote.dll"
results="$logs/results.txt"
: >"$results"

# The target reads its standard input from a fifo this script holds open on fd 3: `stall` lines ask it
# for its longest stop since the last one; any other line, or closing fd 3, ends it.
mkfifo "$logs/target.in"
dotnet "$dll" --chains "$chains" <"$logs/target.in" >"$logs/target.out" 2>"$logs/target.err" &
target=$!
exec 3>"$logs/target.in"
stop_target() { # on any exit: a target still running is ended (a line, then SIGKILL after 20 s)
    exec 3>&-
    for _ in $(seq 200); do
        kill -0 "$target" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$target" 2>/dev/null || true
    wait "$target" 2>/dev/null || true
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
    stall >/dev/null # starts the target's count afresh
    local start end
    start="$(date +%s%N)"
    run_once "asynclens ${command[*]} (read $rep)" "$out" "$err" dotnet "$cli" "${command[@]}"
    end="$(date +%s%N)"
    # asynclens: 200,001 nodes from 202,940 heap objects; process 1987 paused 4.573 s
    local stats nodes objects paused
    stats="$(grep -E '^asynclens: [0-9,]+ nodes from [0-9,]+ heap objects; process [0-9]+ paused [0-9.]+ s$' "$err" | tail -n 1)" \
        || fail "asynclens ${command[*]} printed no --stats line:" "$err"
    read -r nodes objects paused < <(sed 's/^asynclens: \([0-9,]*\) nodes from \([0-9,]*\) heap objects; .* paused \([0-9.]*\) s$/\1 \2 \3/; s/,//g' <<<"$stats")
    # Still there, and not left stopped: kill -0, its state, and it answers (which a stopped process cannot).
    kill -0 "$pid" 2>/dev/null || fail "the target (pid $pid) is gone after read $rep ($variant)" "$logs/target.err"
    local state stopped_ms
    state="$(sed -n 's/^State:[[:space:]]*\([A-Za-z]\).*/\1/p' "/proc/$pid/status")"
    stopped_ms="$(stall)"
    local pending=0
    [[ "$variant" == pstree ]] && pending="$(sed -n '1s/^asynclens: \([0-9]*\) pending tasks.*/\1/p' "$out")"
    local bytes
    bytes="$(wc -c <"$out")"
    [[ "$variant" == ps-json ]] && rm -f "$out" # tens of MB each; the size is kept
    echo "variant=$variant rep=$rep chains=$chains paused_s=$paused stopped_ms=$stopped_ms nodes=$nodes objects=$objects" \
        "pending=${pending:-0} wall_ms=$(((end - start) / 1000000)) out_bytes=$bytes alive=yes state=$state heap_mb=${heap_mb:-0}" >>"$results"
    printf ' %s %s s (target running, %s)' "$variant" "$paused" "$state" >&2
}

interleave "seconds paused" pstree ps-json --

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

python3 -B - "$here/lib" "$results" "$logs" "$done_line" <<'PY'
import sys

sys.path.insert(0, sys.argv[1])
from results import load_runs

results, logs, finished = sys.argv[2], sys.argv[3], sys.argv[4]
rows = load_runs(results, "variant")
med, column = rows.median, rows.column
first = rows["pstree"][0]
chains, pending = int(first["chains"]), int(first["pending"])
labels = {"pstree": "pstree <pid> --stats", "ps-json": "ps <pid> --format json --stats"}
print()
print(f"out-of-process read: {chains:,} chains (OuterAsync -> InnerAsync -> one TaskCompletionSource), {pending:,} pending tasks, "
      f"managed heap {first['heap_mb']} MB; one target process, {len(rows['pstree'])} reads per command, alternating")
print(f"{'read':4}  {'asynclens':32} {'paused s':>9} {'stopped s':>10} {'nodes':>9} {'heap objects':>13} {'wall s':>7} {'output':>9}  target after the read")
for run in sorted((r for v in rows.values() for r in v), key=lambda r: (int(r["rep"]), r["variant"] != "pstree")):
    size = int(run["out_bytes"])
    output = f"{size / 1e6:.1f} MB" if size >= 1e6 else f"{size / 1e3:.0f} KB" if size >= 1e4 else f"{size} B"
    print(f"{run['rep']:4}  {labels[run['variant']]:32} {float(run['paused_s']):9.3f} {float(run['stopped_ms']) / 1000:10.3f} "
          f"{int(run['nodes']):9,} {int(run['objects']):13,} {float(run['wall_ms']) / 1000:7.2f} {output:>9}  running (state {run['state']})")
print()
for variant in ("pstree", "ps-json"):
    paused = column(variant, "paused_s")
    print(f"median  {labels[variant]:32} {med(variant, 'paused_s'):9.3f} {med(variant, 'stopped_ms') / 1000:10.3f}"
          f"   (paused {min(paused):.3f}..{max(paused):.3f} s over the reads; wall {med(variant, 'wall_ms') / 1000:.2f} s)")
print("paused s: asynclens --stats (from just before the attach to the resume); stopped s: the longest a thread of the")
print("target woke up late during the read: what the app felt")

# The goal is about the pause the app feels: the larger of the two figures.
felt = max(med("pstree", "paused_s"), med("pstree", "stopped_ms") / 1000)
if pending >= 100_000 and felt < 2:
    verdict = "met"
elif pending <= 100_000 and felt >= 2:
    verdict = "NOT met"
else:
    size = "more" if pending > 100_000 else "fewer"
    verdict = (f"not shown at this size ({size} than 100,000 tasks; "
               f"bench/remote-read.sh 3 --chains {chains * 100_000 // pending} reads 100,000)")
print()
print(f"goal: 100,000 pending tasks read in under 2 s paused: {verdict} "
      f"({pending:,} pending tasks, pstree paused {felt:.2f} s, median, as the target felt it)")
print(f"after the reads: the gate completed, {int(finished):,} of {chains:,} chains finished")
print(f"raw results and logs: {logs}")
PY
