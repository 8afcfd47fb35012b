#!/usr/bin/env bash
# Web app assets: StreamGate serving its embedded files against nginx serving the very same
# files (the build's staged copy, with the same .gz siblings, `gzip_static on`), both on
# loopback, driven by wrk in the same run. Three cases: index.html (a page load's first
# request), app.js revalidated with If-None-Match (304: what every later page load costs,
# as assets are `no-cache`), and hls.mjs gzip-compressed (the largest file, ~190 KB).
#
# Usage: bench/webapp.sh [--duration 10s] [--connections 64] [--threads 2]
# Needs build/streamgate (scripts/build), nginx and wrk (scripts/install-deps).
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=bench/lib.sh
source bench/lib.sh

require_tools wrk nginx
[[ -x build/streamgate ]] || { echo "missing build/streamgate: run scripts/build" >&2; exit 1; }
site=build/src/plugins/gateway/web
[[ -f $site/index.html ]] || { echo "missing $site (built with build/streamgate)" >&2; exit 1; }
site=$(cd "$site" && pwd)

start_nginx "" "root $site; gzip_static on; etag on; add_header Cache-Control no-cache;"
sg_port=$(free_port)
STREAMGATE_GATEWAY__ACCESS_LOG=false STREAMGATE_GATEWAY__IO_THREADS=2 STREAMGATE_LOG__LEVEL=warn \
STREAMGATE_GATEWAY__RATE_LIMIT__ENABLED=false \
  build/streamgate serve --listen "127.0.0.1:$sg_port" --data-dir "$work/data" \
  --plugins gateway,monitor 2>"$work/streamgate.log" &
pids+=($!)
wait_http "http://127.0.0.1:$nginx_port/index.html"
wait_http "http://127.0.0.1:$sg_port/"

# The same bytes from both (a benchmark of different files would measure nothing).
for f in index.html assets/app.js assets/hls.mjs; do
  path=/$f; [[ $f == index.html ]] && path=/
  cmp -s <(curl -fsS "http://127.0.0.1:$nginx_port/$f") <(curl -fsS "http://127.0.0.1:$sg_port$path") ||
    { echo "nginx and StreamGate serve different bytes for $f" >&2; exit 1; }
done
etag_sg=$(curl -fsSI "http://127.0.0.1:$sg_port/assets/app.js" | awk -F': ' 'tolower($1)=="etag" {print $2}' | tr -d '\r')
etag_nginx=$(curl -fsSI "http://127.0.0.1:$nginx_port/assets/app.js" | awk -F': ' 'tolower($1)=="etag" {print $2}' | tr -d '\r')
[[ $(curl -s -o /dev/null -w '%{http_code}' -H "If-None-Match: $etag_sg" "http://127.0.0.1:$sg_port/assets/app.js") == 304 ]] ||
  { echo "StreamGate did not answer 304" >&2; exit 1; }
[[ $(curl -s -o /dev/null -w '%{http_code}' -H "If-None-Match: $etag_nginx" "http://127.0.0.1:$nginx_port/assets/app.js") == 304 ]] ||
  { echo "nginx did not answer 304" >&2; exit 1; }

printf '%-22s %12s %10s %12s %10s %8s %8s\n' case nginx_rps nginx_p99 sg_rps sg_p99 rps_x p99_x
bench_case() {  # name nginx_url sg_url nginx_header sg_header (headers may be "")
  local name=$1 n_url=$2 s_url=$3 n_hdr=$4 s_hdr=$5 n_rps n_p99 s_rps s_p99
  local n_args=() s_args=()
  [[ -n $n_hdr ]] && n_args=(-H "$n_hdr")
  [[ -n $s_hdr ]] && s_args=(-H "$s_hdr")
  wrk -t1 -c8 -d2s "${n_args[@]}" "$n_url" >/dev/null
  wrk -t1 -c8 -d2s "${s_args[@]}" "$s_url" >/dev/null
  read -r n_rps n_p99 < <(run_wrk "$n_url" "${n_args[@]}")
  read -r s_rps s_p99 < <(run_wrk "$s_url" "${s_args[@]}")
  awk -v n="$name" -v a="$n_rps" -v b="$n_p99" -v c="$s_rps" -v d="$s_p99" \
    'BEGIN{printf "%-22s %12.0f %10.3f %12.0f %10.3f %8.2f %8.2f\n", n, a, b, c, d, c/a, d/b}'
}
bench_case index.html "http://127.0.0.1:$nginx_port/index.html" "http://127.0.0.1:$sg_port/" "" ""
bench_case "app.js 304" "http://127.0.0.1:$nginx_port/assets/app.js" "http://127.0.0.1:$sg_port/assets/app.js" \
  "If-None-Match: $etag_nginx" "If-None-Match: $etag_sg"
bench_case "hls.mjs gzip" "http://127.0.0.1:$nginx_port/assets/hls.mjs" "http://127.0.0.1:$sg_port/assets/hls.mjs" \
  "Accept-Encoding: gzip" "Accept-Encoding: gzip"
echo "(rps_x = StreamGate/nginx throughput; p99_x = StreamGate/nginx p99 latency; wrk -t$threads -c$connections -d$duration on $(nproc) cores, load generator sharing them)"
