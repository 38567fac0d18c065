#!/usr/bin/env bash
# Makes sure the local services the integration tests talk to are up: Redis on 127.0.0.1:6379.
# Also the openssl command, which the network tests use to make a throwaway CA.
set -euo pipefail
if ! command -v openssl > /dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends openssl > /dev/null
fi
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
