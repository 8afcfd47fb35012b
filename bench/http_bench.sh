#!/usr/bin/env bash
# HTTP benchmark: StreamGate's /healthz against nginx returning a tiny static file, both on
# loopback, both driven by wrk in the same run. Prints req/s, p99 latency and the ratios.
#
# Usage: bench/http_bench.sh [--duration 10s] [--connections 64] [--threads 2]
# Needs build/streamgate (scripts/build), nginx and wrk (scripts/install-deps).
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=bench/lib.sh
source bench/lib.sh

require_tools wrk nginx
[[ -x build/streamgate ]] || { echo "missing build/streamgate: run scripts/build" >&2; exit 1; }

sg_port=$(free_port)
mkdir -p "$work/www"
printf '{"status":"ok"}' > "$work/www/healthz"
start_nginx "" "location = /healthz { default_type application/json; alias $work/www/healthz; }"

STREAMGATE_GATEWAY__ACCESS_LOG=false STREAMGATE_GATEWAY__IO_THREADS=2 STREAMGATE_LOG__LEVEL=warn \
  build/streamgate serve --listen "127.0.0.1:$sg_port" --data-dir "$work/data" \
  --plugins gateway,monitor 2>"$work/streamgate.log" &
pids+=($!)

wait_http "http://127.0.0.1:$nginx_port/healthz"
wait_http "http://127.0.0.1:$sg_port/healthz"

# Warm both up, then measure nginx, StreamGate, and nginx again to see drift.
wrk -t1 -c8 -d2s "http://127.0.0.1:$nginx_port/healthz" >/dev/null
wrk -t1 -c8 -d2s "http://127.0.0.1:$sg_port/healthz" >/dev/null
read -r nginx_rps nginx_p99 < <(run_wrk "http://127.0.0.1:$nginx_port/healthz")
read -r sg_rps sg_p99 < <(run_wrk "http://127.0.0.1:$sg_port/healthz")

printf '%-12s %12s %10s\n' server req/s p99_ms
printf '%-12s %12.0f %10.3f\n' nginx "$nginx_rps" "$nginx_p99"
printf '%-12s %12.0f %10.3f\n' streamgate "$sg_rps" "$sg_p99"
awk -v a="$sg_rps" -v b="$nginx_rps" -v c="$sg_p99" -v d="$nginx_p99" \
  'BEGIN{printf "ratio streamgate/nginx: throughput %.2f, p99 latency %.2f\n", a/b, c/d}'
echo "(wrk -t$threads -c$connections -d$duration on $(nproc) cores; load generator shares the cores)"
