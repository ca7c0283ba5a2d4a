# Sourced by bench scripts that run the real applications (tests/RealApps).
# A private PostgreSQL 15 and redis-server on free loopback ports:
# start_servers DIR: starts both (their files and logs in DIR), waits until they accept connections, adds their pids to
# the caller's `pids` array (the caller's trap stops them), sets `pg` (a connection string) and `redis` (host:port).
# Installs them first (tests/RealApps/install-servers.sh) when missing. PostgreSQL refuses to run as root, so then its
# files and process belong to the postgres user.

stop_started() { # the processes in the caller's `pids` array, asked to end, waited for (the caller's EXIT trap)
    local pid
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

start_servers() { # start_servers DIR
    local dir="$1" pgbin pg_port redis_port as_pg=()
    [[ -x "$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | tail -n 1)/postgres" ]] && command -v redis-server >/dev/null \
        || bash "$root/tests/RealApps/install-servers.sh" >>"$dir/build.log" 2>&1
    pgbin="$(ls -d /usr/lib/postgresql/*/bin | tail -n 1)"
    [[ "$(id -u)" == 0 ]] && { chown postgres:postgres "$dir"; as_pg=(runuser -u postgres --); }
    "${as_pg[@]}" "$pgbin/initdb" -D "$dir/pg" -A trust -U postgres --no-sync >>"$dir/pg.log" 2>&1
    pg_port="$(free_port)"
    "${as_pg[@]}" "$pgbin/postgres" -D "$dir/pg" -p "$pg_port" -k "$dir" -c listen_addresses=127.0.0.1 -c fsync=off >>"$dir/pg.log" 2>&1 &
    pids+=($!)
    redis_port="$(free_port)"
    redis-server --port "$redis_port" --bind 127.0.0.1 --save '' >"$dir/redis.log" 2>&1 &
    pids+=($!)
    for _ in $(seq 100); do grep -q "ready to accept connections" "$dir/pg.log" && grep -q "Ready to accept" "$dir/redis.log" && break; sleep 0.2; done
    pg="Host=127.0.0.1;Port=$pg_port;Username=postgres;Database=postgres;Pooling=true;Timeout=30"
    redis="127.0.0.1:$redis_port"
}

traffic() { # traffic URL SECONDS [PID]: 8 loops of healthy requests (until PID ends, if given); even loops keep their connection for a round of URLs
    local url="$1" until=$((SECONDS + $2)) server="${3:-}" loop loops=()
    for loop in 1 2 3 4 5 6 7 8; do
        (
            while ((SECONDS < until)) && { [[ -z "$server" ]] || kill -0 "$server" 2>/dev/null; }; do
                local id=$((RANDOM % 50 + 1))
                local paths=(health "product/$id" "products?ids=$id,$((id + 1)),$((id + 2))" catalog/stream config "orders/$id")
                if ((loop % 2 == 0)); then
                    curl -s "${paths[@]/#/$url/}" >/dev/null || true
                else
                    for path in "${paths[@]}"; do curl -s -o /dev/null "$url/$path" || true; done
                fi
            done
        ) &
        loops+=($!)
    done
    wait "${loops[@]}"
}
