#!/usr/bin/env bash
# Segment delivery benchmark: StreamGate against nginx serving the SAME segment files, in one
# run: wrk on loopback, 64 keep-alive connections, a 64 KiB and a 1 MiB segment; then
# StreamGate's HLS manifests. Prints req/s, p99 and the ratios (goals: segments >= 1.0x
# nginx req/s with p99 <= 1.2x nginx).
#
# Usage: bench/segments.sh [--duration 10s] [--connections 64] [--threads 2]
# Needs build/streamgate (scripts/build), nginx, wrk and ffmpeg (scripts/install-deps).
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=bench/lib.sh
source bench/lib.sh

require_tools wrk ffmpeg curl python3
sg=${SG_STREAMGATE:-build/streamgate}
[[ -x "$sg" ]] || { echo "missing $sg: run scripts/build" >&2; exit 1; }

# ---- StreamGate with one ready content (a small, quick ladder), access log off.
start_streamgate "$(streamgate_bench_config)"
id=$(upload_ready segments)

# The two segment files both servers send: 64 KiB and 1 MiB (the store serves whatever
# bytes the file holds; nginx reads the very same files).
media="$work/data/objects/media/$id/240p"
head -c 65536 /dev/urandom > "$media/segment_0.m4s"
head -c 1048576 /dev/urandom > "$media/segment_1.m4s"

# ---- nginx: the same URLs over the same files; 2 workers like StreamGate's 2 I/O threads.
start_nginx 'sendfile on;
  tcp_nopush on;
  types { video/mp4 m4s mp4; }' \
  "location /api/v1/streaming/$id/ { alias $work/data/objects/media/$id/; }"
wait_http "http://127.0.0.1:$nginx_port/api/v1/streaming/$id/240p/segment_0.m4s"

printf '%-22s %12s %10s %12s %10s %9s %9s\n' segment "nginx req/s" "p99 ms" "SG req/s" "p99 ms" \
  "req/s x" "p99 x"
for file in segment_0.m4s segment_1.m4s; do
  path="/api/v1/streaming/$id/240p/$file"
  size=$(stat -c %s "$media/$file")
  wrk -t1 -c8 -d2s "http://127.0.0.1:$nginx_port$path" >/dev/null
  wrk -t1 -c8 -d2s "http://127.0.0.1:$sg_port$path" >/dev/null
  read -r n_rps n_p99 < <(run_wrk "http://127.0.0.1:$nginx_port$path")
  read -r s_rps s_p99 < <(run_wrk "http://127.0.0.1:$sg_port$path")
  printf '%-22s %12.0f %10.3f %12.0f %10.3f %9.2f %9.2f\n' "$file ($((size / 1024)) KiB)" \
    "$n_rps" "$n_p99" "$s_rps" "$s_p99" "$(echo "$s_rps / $n_rps" | bc -l)" \
    "$(echo "$s_p99 / $n_p99" | bc -l)"
done
for manifest in manifest.m3u8 240p/playlist.m3u8 manifest.mpd; do
  read -r m_rps m_p99 < <(run_wrk "http://127.0.0.1:$sg_port/api/v1/streaming/$id/$manifest")
  printf 'StreamGate %-20s %10.0f req/s, p99 %.3f ms\n' "$manifest" "$m_rps" "$m_p99"
done
echo "(wrk -t$threads -c$connections -d$duration on $(nproc) cores; the load generator shares them)"
