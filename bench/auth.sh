#!/usr/bin/env bash
# Access-control benchmark, one run:
#  1. build/bench/auth_bench: SIWE verifications per second against a bare libsecp256k1
#     recovery loop (goal >= 0.8x), playback-token checks and ES256 access-token checks;
#  2. wrk on loopback: segment GETs of NFT-gated content (through a playback token in the
#     path, no chain call per segment) against the same segment of public content.
#
# Usage: bench/auth.sh [--duration 10s] [--connections 64] [--threads 2]
# Needs build/streamgate and build/bench/auth_bench (scripts/build), wrk and ffmpeg.
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=bench/lib.sh
source bench/lib.sh

require_tools wrk ffmpeg curl python3
sg=${SG_STREAMGATE:-build/streamgate}
bench_bin=${SG_AUTH_BENCH:-build/bench/auth_bench}
for binary in "$sg" "$bench_bin"; do
  [[ -x "$binary" ]] || { echo "missing $binary: run scripts/build" >&2; exit 1; }
done

echo "== signatures and tokens (one process, 2 s each)"
mkdir -p "$work/auth_bench"
"$bench_bin" "$work/auth_bench"

echo "== segment GETs: gated (playback token) against public, same 64 KiB file"
# The chain is configured so that the policy validates; it is never asked: the admin (owner)
# fetches the manifest, and segment requests check only the token.
start_streamgate "$(streamgate_bench_config 'chains:
  - id: "eip155:1"
    rpc_urls: ["http://127.0.0.1:9"]')"
key=$sg_key
public_id=$(upload_ready public)
gated_id=$(upload_ready gated)
curl -fsS -o /dev/null -X PUT -H "Authorization: Bearer $key" -H 'Content-Type: application/json' \
  --data '{"any":[{"chain":"eip155:1","standard":"erc721","contract":"0x00000000000000000000000000000000000000aa"}]}' \
  "http://127.0.0.1:$sg_port/api/v1/content/$gated_id/policy"
prefix=$(curl -fsS -H "Authorization: Bearer $key" \
  "http://127.0.0.1:$sg_port/api/v1/streaming/$gated_id/manifest.m3u8" | grep -o 't/[^/]*/' | head -1)
[[ -n "$prefix" ]] || { echo "the gated manifest carries no playback token" >&2; exit 1; }
head -c 65536 /dev/urandom > "$work/segment"
for id in "$public_id" "$gated_id"; do
  cp "$work/segment" "$work/data/objects/media/$id/240p/segment_0.m4s"
done
public_url="http://127.0.0.1:$sg_port/api/v1/streaming/$public_id/240p/segment_0.m4s"
gated_url="http://127.0.0.1:$sg_port/api/v1/streaming/$gated_id/${prefix}240p/segment_0.m4s"
[[ $(curl -s -o /dev/null -w '%{http_code}' "$gated_url") == 200 ]] || {
  echo "gated segment with its token is not 200" >&2; exit 1; }
[[ $(curl -s -o /dev/null -w '%{http_code}' \
  "http://127.0.0.1:$sg_port/api/v1/streaming/$gated_id/240p/segment_0.m4s") == 403 ]] || {
  echo "gated segment without a token is not 403" >&2; exit 1; }
wrk -t1 -c8 -d2s "$public_url" >/dev/null
wrk -t1 -c8 -d2s "$gated_url" >/dev/null
read -r p_rps p_p99 < <(run_wrk "$public_url")
read -r g_rps g_p99 < <(run_wrk "$gated_url")
printf '%-28s %10.0f req/s  p99 %8.3f ms\n' "public segment" "$p_rps" "$p_p99"
printf '%-28s %10.0f req/s  p99 %8.3f ms\n' "gated segment (token)" "$g_rps" "$g_p99"
printf 'gated / public: %.2f\n' "$(echo "$g_rps / $p_rps" | bc -l)"
echo "(wrk -t$threads -c$connections -d$duration on $(nproc) cores; the load generator shares them)"
