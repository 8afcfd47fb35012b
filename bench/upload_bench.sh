#!/usr/bin/env bash
# Upload benchmark: a video file through the seed chunked API (streamgate upload: 8 MiB
# chunks, 2 in parallel) against dd writing the same bytes to the same disk (conv=fsync),
# in the same run. Prints MB/s of both, the ratio, and the server's peak RSS.
#
# Usage: bench/upload_bench.sh [--size-mib 1024] [--parallel 2] [--dir /path/on/the/disk]
# Needs build/streamgate (scripts/build) and ffmpeg (scripts/install-deps).
set -euo pipefail
cd "$(dirname "$0")/.."

size_mib=1024 parallel=2 dir=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --size-mib) size_mib="$2"; shift 2 ;;
    --parallel) parallel="$2"; shift 2 ;;
    --dir) dir="$2"; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
[[ -x build/streamgate ]] || { echo "missing build/streamgate: run scripts/build" >&2; exit 1; }

work=$(mktemp -d ${dir:+-p "$dir"})
server_pid=""
cleanup() {
  [[ -n "$server_pid" ]] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

# A playable video of about size_mib MiB: lossless noise does not compress, so the size
# follows the frame count (640x480 yuv420p ~ 0.45 MiB/frame at qp 0).
frames=$(( size_mib * 1024 * 1024 / 460000 + 1 ))
echo "making a ${size_mib} MiB test video ($frames frames)..." >&2
ffmpeg -v error -y -f lavfi -i "nullsrc=s=640x480:r=25,geq=random(1)*255:128:128" \
  -frames:v "$frames" -c:v libx264 -preset ultrafast -qp 0 -pix_fmt yuv420p "$work/clip.mp4"
bytes=$(stat -c %s "$work/clip.mp4")
sync

# Reference: dd writes the same bytes to the same disk and fsyncs.
start=$(date +%s.%N)
dd if="$work/clip.mp4" of="$work/dd.out" bs=8M conv=fsync status=none
dd_seconds=$(echo "$(date +%s.%N) - $start" | bc)
rm -f "$work/dd.out"
sync

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
STREAMGATE_LOG__LEVEL=warn STREAMGATE_GATEWAY__ACCESS_LOG=false \
  build/streamgate serve --listen "127.0.0.1:$port" --data-dir "$work/data" 2>"$work/server.log" &
server_pid=$!
for _ in $(seq 1 200); do curl -fs -o /dev/null "http://127.0.0.1:$port/healthz" && break; sleep 0.05; done
key=$(cat "$work/data/api_key")

# The whole command is timed: the client's hashing pass (the file is in the page cache
# after dd), the chunk transfers, and complete (whole-file SHA-256 check and ffprobe).
start=$(date +%s.%N)
build/streamgate upload "$work/clip.mp4" --server "http://127.0.0.1:$port" --api-key "$key" \
  --parallel "$parallel" --chunk-size 8 --state-dir "$work/state" --quiet >"$work/content_id"
sg_seconds=$(echo "$(date +%s.%N) - $start" | bc)
peak_rss_kib=$(awk '/VmHWM/ {print $2}' "/proc/$server_pid/status")

mb=$(echo "$bytes / 1000000" | bc -l)
printf '%-22s %10s %8s\n' "" "MB/s" "seconds"
printf '%-22s %10.1f %8.2f\n' "dd conv=fsync" "$(echo "$mb / $dd_seconds" | bc -l)" "$dd_seconds"
printf '%-22s %10.1f %8.2f\n' "streamgate upload" "$(echo "$mb / $sg_seconds" | bc -l)" "$sg_seconds"
printf 'ratio streamgate/dd: %.2f\n' "$(echo "$dd_seconds / $sg_seconds" | bc -l)"
printf 'server peak RSS: %.1f MiB (file %.0f MiB)\n' "$(echo "$peak_rss_kib / 1024" | bc -l)" \
  "$(echo "$bytes / 1048576" | bc -l)"
echo "(includes client hashing, server whole-file SHA-256 check and ffprobe at complete)"
