#!/usr/bin/env bash
# Makes sure the local services the integration tests talk to are up: Redis on 127.0.0.1:6379.
# Also installs libfaketime, which tests/chaos uses to step the daemon's wall clock.
set -euo pipefail
missing=()
command -v redis-server > /dev/null || missing+=(redis-server)
command -v faketime > /dev/null || missing+=(faketime)
if [ "${#missing[@]}" -gt 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" > /dev/null
fi
if ! redis-cli -h 127.0.0.1 -p 6379 ping > /dev/null 2>&1; then
    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no
    for _ in $(seq 50); do
        redis-cli -h 127.0.0.1 -p 6379 ping > /dev/null 2>&1 && break
        sleep 0.1
    done
fi
redis-cli -h 127.0.0.1 -p 6379 ping
