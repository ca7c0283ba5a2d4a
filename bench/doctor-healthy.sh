#!/usr/bin/env bash
# False verdicts of `asynclens doctor PID` on the healthy real applications: each app started once per build and read
# RUNS times while it works; prints how many reads were `healthy` (exit code 0), then each other verdict's first line.
#
#   bench/doctor-healthy.sh [RUNS] [--config Debug|Release|both] [--only shop|db|busy|pipelines]
#
# Targets (tests/RealApps, no AsyncLens in them: the doctor reads from outside): ShopApi serving healthy traffic (8 curl
# loops over /health, /product/{id}, /products?ids=..., /catalog/stream, /config, /orders/{id} on PostgreSQL, for
# the whole series), DbWorker `healthy` (Npgsql + Dapper on PostgreSQL, StackExchange.Redis) and `busy` (the same beside
# batches of 64 cache writes in flight at once), Pipelines `healthy`.
# Each is healthy: any other verdict is a false one. A private PostgreSQL 15 and redis-server are started on free
# loopback ports and stopped at the end. ASYNCLENS_CLI=path/asynclens.dll reads with that build of the CLI instead of
# building it in Release. Not a test: nothing here asserts; the figures go to docs/doctor.md.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
source "$here/lib/common.sh"
source "$here/lib/realapps.sh"

runs=20 configs=(Debug Release) only=""
if [[ "${1:-}" =~ ^[0-9]+$ ]]; then runs="$1"; shift; fi
while [[ $# -gt 0 ]]; do
    case "$1" in
        --config) case "${2:-}" in Debug | Release) configs=("$2") ;; both) ;; *) echo "$0: --config Debug|Release|both" >&2; exit 2 ;; esac; shift 2 ;;
        --only) only="${2:-}"; shift 2 ;;
        *) echo "usage: $0 [RUNS] [--config Debug|Release|both] [--only shop|db|busy|pipelines]" >&2; exit 2 ;;
    esac
done
require_tools "it finds free ports"
command -v curl >/dev/null || { echo "$0: curl is not on PATH" >&2; exit 1; }
unset_debug_env ASPNETCORE_URLS DOTNET_URLS SHOP_PG DB_PG DB_REDIS

logs="$(mktemp -d "${TMPDIR:-/tmp}/asynclens-doctor-healthy.XXXXXX")"
chmod 755 "$logs"
cli="${ASYNCLENS_CLI:-}"
if [[ -z "$cli" ]]; then
    echo "building the CLI..." >&2
    build_release "$logs/build.log" "$root/src/AsyncLens.Cli/AsyncLens.Cli.csproj"
    cli="$root/artifacts/bin/AsyncLens.Cli/release/asynclens.dll"
fi
for config in "${configs[@]}"; do
    for app in ShopApi DbWorker Pipelines; do
        dotnet build "$root/tests/RealApps/$app/$app.csproj" -c "$config" -nologo -v q >>"$logs/build.log" 2>&1 || { cat "$logs/build.log" >&2; exit 1; }
    done
done

pids=()
trap stop_started EXIT
trap "exit 130" INT TERM
start_servers "$logs"

series() { # series KEY PID: RUNS reads of PID, each verdict kept; prints . for healthy, x for anything else
    local key="$1" pid="$2" run rc
    for ((run = 1; run <= runs; run++)); do
        rc=0
        dotnet "$cli" doctor "$pid" >"$logs/$key.$run.txt" 2>&1 || rc=$?
        if ((rc == 0)); then healthy[$key]=$((healthy[$key] + 1)); printf . >&2; else printf x >&2; fi
        sleep 0.5
    done
}

start() { # start OUT APP CONFIG ARGS...: the app in the background, its pid in $app_pid
    local out="$1" app="$2" config="$3"
    shift 3
    SHOP_PG="$pg" DB_PG="$pg" DB_REDIS="$redis" dotnet "$root/artifacts/bin/$app/${config,,}/$app.dll" "$@" >"$out.stdout" 2>"$out.stderr" &
    app_pid=$!
    pids+=("$app_pid")
}

declare -A label=([shop]="ShopApi, healthy traffic" [db]="DbWorker healthy" [busy]="DbWorker busy" [pipelines]="Pipelines healthy")
declare -A healthy
for config in "${configs[@]}"; do
    for target in shop db busy pipelines; do
        [[ -z "$only" || "$only" == "$target" ]] || continue
        key="$target.$config"
        healthy[$key]=0
        printf '%-26s %-7s ' "${label[$target]}" "$config" >&2
        case "$target" in
            shop)
                start "$logs/$key" ShopApi "$config"
                url=""
                for _ in $(seq 300); do
                    url="$(sed -n 's/^listening [0-9]* \(http[^ ]*\).*/\1/p' "$logs/$key.stdout" 2>/dev/null || true)"
                    [[ -n "$url" ]] && break
                    sleep 0.1
                done
                traffic "$url" $((runs * 10 + 10)) "$app_pid" &
                load=$!
                sleep 3 ;;
            db) start "$logs/$key" DbWorker "$config" healthy 100000000; sleep 3 ;;
            busy) start "$logs/$key" DbWorker "$config" busy 100000000; sleep 3 ;;
            pipelines) start "$logs/$key" Pipelines "$config" healthy 100000000; sleep 3 ;;
        esac
        series "$key" "$app_pid"
        kill -TERM "$app_pid" 2>/dev/null || true
        [[ "$target" != shop ]] || wait "$load" 2>/dev/null || true
        wait "$app_pid" 2>/dev/null || true
        echo " $(uptime | sed 's/.*load average: //')" >&2
    done
done

echo
printf '%-26s %-8s %8s\n' target build healthy
for config in "${configs[@]}"; do
    for target in shop db busy pipelines; do
        [[ -z "$only" || "$only" == "$target" ]] || continue
        printf '%-26s %-8s %5d/%-3d\n' "${label[$target]}" "$config" "${healthy[$target.$config]}" "$runs"
    done
done
grep -h -A2 -E '^asynclens doctor: ' "$logs"/*.txt 2>/dev/null | grep -E '^[a-z-]+: ' | grep -v '^healthy: ' | sed 's/[0-9][0-9,]*/N/g' | sort | uniq -c | sort -rn | head -20 || true
echo "reads kept in $logs (load average at the end: $(uptime | sed 's/.*load average: //'))"
