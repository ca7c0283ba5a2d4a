# Shared by the bench/*.sh scripts, which source it after `set -euo pipefail`: argument checks, a
# clean environment, the build, one process per measurement and the interleaved repetitions.
# Functions only; each script keeps its own settings. record appends to the script's $results, and
# interleave calls the script's run function.
# shellcheck shell=bash

parse_reps() { # parse_reps OPTIONS [REPETITIONS]: sets reps (default 5), or prints the usage and exits 2
    reps="${2:-5}"
    if ! [[ "$reps" =~ ^[1-9][0-9]*$ ]]; then
        echo "usage: $0 [REPETITIONS] $1" >&2
        exit 2
    fi
}

require_tools() { # require_tools [WHY_PYTHON3]: exits 1 unless dotnet and python3 are on PATH
    command -v dotnet >/dev/null || { echo "$0: dotnet (the .NET SDK) is not on PATH" >&2; exit 1; }
    command -v python3 >/dev/null || { echo "$0: python3 is not on PATH${1:+ ($1)}" >&2; exit 1; }
}

unset_debug_env() { # unset_debug_env [MORE_VARIABLES...]
    # Whatever debug switch the calling shell has on must not leak into the "off" runs.
    unset DOTNET_STARTUP_HOOKS ASYNCLENS_DEBUG ASYNCLENS_TASKS ASYNCLENS_OUTPUT ASYNCLENS_SLOW_MS ASYNCLENS_FORMAT ASYNCLENS_DUMP_FORMAT ASYNCLENS_STEP_SOURCE "$@"
}

build_release() { # build_release LOG PROJECT...: dotnet build each in Release; on failure shows LOG and exits 1
    local log="$1" project
    shift
    for project in "$@"; do
        # Quiet unless it fails: the log is the only way to see why.
        if ! dotnet build "$project" -c Release -nologo -v q >>"$log" 2>&1; then
            cat "$log" >&2
            exit 1
        fi
    done
}

build_harness() { # build_harness NAME: builds bench/AsyncLens.Bench; sets logs (a new temp dir), dll, results (empty)
    logs="$(mktemp -d "${TMPDIR:-/tmp}/asynclens-$1.XXXXXX")"
    echo "building bench/AsyncLens.Bench (Release)..." >&2
    build_release "$logs/build.log" "$here/AsyncLens.Bench/AsyncLens.Bench.csproj"
    dll="$root/artifacts/bin/AsyncLens.Bench/release/AsyncLens.Bench.dll"
    results="$logs/results.txt"
    : >"$results"
}

run_once() { # run_once LABEL OUT ERR COMMAND...: COMMAND's output into OUT and ERR; if it fails, shows both and exits 1
    local label="$1" out="$2" err="$3"
    shift 3
    if ! "$@" >"$out" 2>"$err"; then
        echo "$0: $label failed:" >&2
        cat "$out" "$err" >&2
        exit 1
    fi
}

record() { # record FIELDS OUT KEY LABEL: FIELDS and OUT's last RESULT line into $results; LABEL, KEY's value to stderr
    local line
    line="$(grep '^RESULT ' "$2" | tail -n 1)"
    echo "$1 ${line#RESULT }" >>"$results"
    printf ' %s %s' "$4" "$(sed -n "s/.* $3=\([^ ]*\).*/\1/p" <<<"$line")" >&2
}

interleave() { # interleave UNIT VARIANT... -- [options...]: $reps times, run VARIANT REP [options...] for each variant
    local unit="$1" variants=() rep i n
    shift
    while [[ "$1" != -- ]]; do
        variants+=("$1")
        shift
    done
    shift
    n=${#variants[@]}
    for ((rep = 1; rep <= reps; rep++)); do
        printf 'repetition %d/%d (%s):' "$rep" "$reps" "$unit" >&2
        # Reversed every other repetition, so a busy stretch of the machine hits every variant alike.
        for ((i = 0; i < n; i++)); do
            if ((rep % 2 == 0)); then
                run "${variants[n - 1 - i]}" "$rep" "$@"
            else
                run "${variants[i]}" "$rep" "$@"
            fi
        done
        echo >&2
    done
}

end_process() { # end_process PID: waits up to 20 s for the process to exit (after being asked to), then SIGKILLs it
    for _ in $(seq 200); do
        kill -0 "$1" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
}

fail() { # fail MESSAGE FILES...: print the message and the files, stop
    echo "$0: $1" >&2
    shift
    for file in "$@"; do
        [[ -s "$file" ]] && { echo "--- $file" >&2; tail -n 40 "$file" >&2; }
    done
    exit 1
}
