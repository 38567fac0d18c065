#!/usr/bin/env bash
# Makes sure the local services the integration tests talk to are up: Redis on 127.0.0.1:6379,
# PostgreSQL on 127.0.0.1:5432 (user postgres, trust) and RabbitMQ on 127.0.0.1:5672 (guest).
# Also installs libfaketime, which tests/chaos uses to step the daemon's wall clock, the
# openssl command, which the network tests use to make a throwaway CA, and chromium, the
# headless browser of the console's end-to-end tests.
set -euo pipefail

missing=()
command -v redis-server > /dev/null || missing+=(redis-server)
command -v pg_ctlcluster > /dev/null || missing+=(postgresql)
command -v rabbitmq-server > /dev/null || missing+=(rabbitmq-server)
command -v faketime > /dev/null || missing+=(faketime)
command -v openssl > /dev/null || missing+=(openssl)
# The console's browser tests (tests/e2e/test_console.py) drive Debian's chromium.
command -v chromium > /dev/null || missing+=(chromium)
if [ ${#missing[@]} -gt 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" > /dev/null
fi

port_open() { (echo > "/dev/tcp/127.0.0.1/$1") > /dev/null 2>&1; }

wait_for_port() {  # port, seconds
    for _ in $(seq "$(($2 * 10))"); do
        port_open "$1" && return 0
        sleep 0.1
    done
    echo "nothing answers on 127.0.0.1:$1" >&2
    return 1
}

if ! redis-cli -h 127.0.0.1 -p 6379 ping > /dev/null 2>&1; then
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no
    for _ in $(seq 50); do
        redis-cli -h 127.0.0.1 -p 6379 ping > /dev/null 2>&1 && break
        sleep 0.1
    done
fi
redis-cli -h 127.0.0.1 -p 6379 ping

if ! port_open 5432; then
    version="$(ls /etc/postgresql | sort -n | tail -1)"
    hba="/etc/postgresql/$version/main/pg_hba.conf"
    # The tests connect as postgres without a password, over TCP on loopback only.
    if ! grep -q "^host all all 127.0.0.1/32 trust" "$hba"; then
        sed -i '1i host all all 127.0.0.1/32 trust' "$hba"
    fi
    pg_ctlcluster --skip-systemctl-redirect "$version" main start
    wait_for_port 5432 30
fi
psql -h 127.0.0.1 -U postgres -Atc "SELECT 'postgresql ' || current_setting('server_version')"

if ! port_open 5672; then
    rabbitmq-server -detached
    wait_for_port 5672 60
fi
echo "rabbitmq answers on 5672"
