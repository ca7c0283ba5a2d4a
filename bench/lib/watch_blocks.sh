# Shared by bench/watch-paired.sh and bench/watch-cost.sh: `asynclens watch` attached to one process and detached in
# turn, the stretches written down for bench/lib/watch_blocks.py to pair with the target's rounds. Functions only,
# sourced after common.sh.
# shellcheck shell=bash

now_ms() { date +%s%3N; }

# watch_blocks CLI PID BLOCK_S WARM_S DIR WHILE...: first `asynclens watch PID` attached for WARM_S seconds, not
# counted (the target's JIT compiles the code the session runs in it, the counters' and the events', and tiers it up
# after 30 calls: the counters are called once a second, so 40 s of it), then a second detached; then, while the command
# WHILE succeeds (checked at each block's start and after its detached stretch), a block: BLOCK_S seconds detached, then
# `asynclens watch PID` started and, from its "watching" line (its EventPipe session open), BLOCK_S seconds attached,
# then SIGTERM (watch prints its events by name on exit, into DIR/watch.N.err; the warm-up's: DIR/watch.0.err).
# Appends to DIR/stretches.txt "warm FROM TO LOAD LAUNCHED", "off FROM TO LOAD" and "on FROM TO LOAD LAUNCHED" (unix
# ms, the 1-minute load average at the stretch's end; LAUNCHED: when watch was started, its start-up before FROM).
# Sets the global watcher while one runs, for the caller's trap.
watch_blocks() {
    local cli="$1" pid="$2" block_s="$3" warm_s="$4" dir="$5" block=0
    shift 5
    : >"$dir/stretches.txt"
    if ((warm_s > 0)); then
        attached 0 "$cli" "$pid" "$warm_s" "$dir" warm
        sleep 1
    fi
    while "$@" 2>/dev/null; do
        block=$((block + 1))
        local off_from
        off_from=$(now_ms)
        sleep "$block_s"
        "$@" 2>/dev/null || break
        echo "off $off_from $(now_ms) $(cut -d' ' -f1 /proc/loadavg)" >>"$dir/stretches.txt"
        attached "$block" "$cli" "$pid" "$block_s" "$dir" on
    done
}

# start_watch CLI PID INCIDENTS ERR WHAT: `asynclens watch PID -o INCIDENTS` in the background (its pid in $watcher),
# back once it says it watches (up to 30 s); fails naming WHAT if it ends first.
start_watch() {
    local cli="$1" pid="$2" incidents="$3" err="$4" what="$5"
    : >"$err" # before watch opens it: the loop below reads it at once
    dotnet "$cli" watch "$pid" -o "$incidents" 2>"$err" &
    watcher=$!
    for _ in $(seq 600); do
        grep -q '^asynclens: watching process' "$err" && return 0
        kill -0 "$watcher" 2>/dev/null || fail "asynclens watch ($what) ended:" "$err"
        sleep 0.05
    done
}

# attached N CLI PID SECONDS DIR SIDE: one `asynclens watch` run of SECONDS from its "watching" line, written down.
attached() {
    local block="$1" cli="$2" pid="$3" seconds="$4" dir="$5" side="$6" launched on_from on_to
    launched=$(now_ms)
    start_watch "$cli" "$pid" "$dir/incidents.$block" "$dir/watch.$block.err" "block $block"
    on_from=$(now_ms)
    sleep "$seconds"
    on_to=$(now_ms)
    kill -TERM "$watcher"
    end_process "$watcher"
    watcher=""
    echo "$side $on_from $on_to $(cut -d' ' -f1 /proc/loadavg) $launched" >>"$dir/stretches.txt"
}

# fewer_blocks_than N DIR: succeeds while DIR/stretches.txt has fewer than N attached stretches (a WHILE for watch_blocks).
fewer_blocks_than() {
    (($(grep -c '^on ' "$2/stretches.txt" || true) < $1))
}
