#!/usr/bin/env bash
# Makes sure the local services the integration tests talk to are up: Redis on 127.0.0.1:6379.
set -euo pipefail
if ! command -v redis-server > /dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends redis-server > /dev/null
fi
if ! redis-cli -h 127.0.0.1 -p 6379 ping > /dev/null 2>&1; then
    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no
    for _ in $(seq 50); do
        redis-cli -h 127.0.0.1 -p 6379 ping > /dev/null 2>&1 && break
        sleep 0.1
    done
fi
redis-cli -h 127.0.0.1 -p 6379 ping

# PostgreSQL on 127.0.0.1:5432, user postgres without a password (the dead-letter store tests).
if ! pg_isready -h 127.0.0.1 -p 5432 > /dev/null 2>&1; then
    if ! ls /usr/lib/postgresql/*/bin/postgres > /dev/null 2>&1; then
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends postgresql > /dev/null
    fi
    pg_bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
    pg_data=/tmp/partner-publisher-ci-pg
    if [ ! -f "$pg_data/PG_VERSION" ]; then
        install -d -o postgres "$pg_data"
        su postgres -c "$pg_bin/initdb -D $pg_data -U postgres --auth=trust" > /dev/null
    fi
    su postgres -c "$pg_bin/pg_ctl -D $pg_data -o '-c listen_addresses=127.0.0.1' -l $pg_data/log -w start" > /dev/null
fi
pg_isready -h 127.0.0.1 -p 5432
