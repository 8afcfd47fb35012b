#!/usr/bin/env bash
# Transcode benchmark: one generated 1080p30 clip with audio (the "upload", high-bitrate
# H.264/AAC mp4) made into the default ladder (360p 500k, 480p 1000k, 720p 2000k, 1080p
# 4000k; libx264 veryfast, fixed 2 s GOP; AAC 128k as its own rendition; 4 s CMAF segments
# through the hls muxer) three ways in the same run:
#   single  the best single ffmpeg command line: decode once, split, four encodes
#   four    four separate ffmpeg runs, one per rung, each decoding the source
#   worker  StreamGate: upload the clip, time from upload `complete` (the CLI returning) to
#           the content being `ready`, and to the first segment of every rung
# Prints wall times, speed (x realtime), CPU seconds and the ratios worker/single (goal
# <= 1.05) and worker/four (goal <= 0.75), each also in CPU time (steadier on a busy host).
#
# Usage: bench/transcode.sh [--duration 60] [--quick] [--no-worker] [--dir /path]
#   --quick      a 10 s clip, for a fast smoke run
#   --no-worker  only the two ffmpeg references
# Needs ffmpeg with libx264 (scripts/install-deps); the worker part needs build/streamgate
# (scripts/build; SG_STREAMGATE=path for another build) with the transcode plugin.
# SG_BENCH_KEEP=1 keeps the temp dir.
set -euo pipefail
cd "$(dirname "$0")/.."

duration=60 worker=1 dir=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --duration) duration="$2"; shift 2 ;;
    --quick) duration=10; shift ;;
    --no-worker) worker=0; shift ;;
    --dir) dir="$2"; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
[[ "$duration" =~ ^[0-9]+$ && "$duration" -ge 1 ]] || { echo "--duration: whole seconds >= 1" >&2; exit 2; }
for tool in ffmpeg ffprobe bc python3 curl; do
  command -v "$tool" >/dev/null || { echo "missing $tool: run scripts/install-deps" >&2; exit 1; }
done
[[ "$(ffmpeg -hide_banner -encoders 2>/dev/null)" == *libx264* ]] ||
  { echo "ffmpeg has no libx264 encoder" >&2; exit 1; }

sg=${SG_STREAMGATE:-build/streamgate}
work=$(mktemp -d ${dir:+-p "$dir"})
server_pid=""
cleanup() {
  if [[ -n "$server_pid" ]]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  if [[ -n "${SG_BENCH_KEEP:-}" ]]; then
    echo "kept $work" >&2
  else
    rm -rf "$work"
  fi
}
trap cleanup EXIT

now() { date +%s.%N; }
since() { echo "$(now) - $1" | bc; }
# CPU seconds (user + system) that a process's waited-for children used (fields 16, 17 of
# /proc/<pid>/stat); with "self", its own instead. Wall times depend on whatever else runs
# on the machine, CPU seconds much less: both are printed.
ticks=$(getconf CLK_TCK)
cpu() {
  awk -v self="${2:-}" -v hz="$ticks" \
    '{ t = (self == "self") ? $14 + $15 : $16 + $17; printf "%.2f", t / hz }' "/proc/$1/stat"
}
load=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- the upload: testsrc2 (moving detail, not a still) at a phone-like 20 Mbit/s, high
# profile with CABAC and B-frames (superfast), so decoding costs what a real upload does.
fps=30 gop=60 segment=4
echo "making a ${duration} s 1920x1080 ${fps} fps test clip with audio..." >&2
ffmpeg -hide_banner -v error -y \
  -f lavfi -i "testsrc2=size=1920x1080:rate=$fps" \
  -f lavfi -i "sine=frequency=440:sample_rate=48000" -t "$duration" \
  -c:v libx264 -preset superfast -profile:v high -pix_fmt yuv420p \
  -b:v 20M -maxrate 20M -bufsize 40M -g "$gop" \
  -c:a aac -b:a 192k -ac 2 -movflags +faststart "$work/clip.mp4"
clip_bytes=$(stat -c %s "$work/clip.mp4")
sync

# ---- the ladder, shared by the two ffmpeg references. The encoder settings are the
# worker's (src/plugins/transcode/ffmpeg_command.cc): same rate control (maxrate 1.07x,
# bufsize 1.5x), same fixed GOP with no scene-cut keyframes, so all three do the same work.
names=(360p 480p 720p 1080p)
heights=(360 480 720 1080)
rates=(500 1000 2000 4000)  # kbit/s

# Encoder options of rung i as output stream index j.
video_opts() {
  local i=$1 j=$2 r=${rates[$1]}
  echo "-b:v:$j ${r}k -maxrate:v:$j $(( r * 107 / 100 ))k -bufsize:v:$j $(( r * 3 / 2 ))k"
}
common_video=(-c:v libx264 -preset veryfast -profile:v high -pix_fmt yuv420p
  -g "$gop" -keyint_min "$gop" -sc_threshold 0)
audio=(-c:a aac -b:a 128k -ac 2)
hls() {  # hls <out dir> <var_stream_map>: the muxer options, into the array hls_args
  hls_args=(-f hls -hls_segment_type fmp4 -hls_time "$segment" -hls_list_size 0
    -hls_playlist_type vod -hls_flags independent_segments -hls_fmp4_init_filename init.mp4
    -start_number 0 -hls_segment_filename "$1/%v/segment_%d.m4s" -var_stream_map "$2"
    "$1/%v/playlist.m3u8")
}

# Every rendition has an init segment and ceil(duration / segment) media segments; audio
# may have one more of a few ms (AAC frames of 1024 samples do not end on the boundary).
check_output() {  # check_output <out dir> <rendition names...>
  local out=$1 want=$(( (duration + segment - 1) / segment )) name got
  shift
  for name in "$@"; do
    got=$(find "$out/$name" -name 'segment_*.m4s' 2>/dev/null | wc -l)
    if [[ "$got" -lt "$want" || "$got" -gt $(( want + 1 )) ]] ||
      ! compgen -G "$out/$name/init*.mp4" >/dev/null; then
      echo "$out/$name: $got segments (expected $want) or no init segment" >&2
      return 1
    fi
  done
}

# ---- (a) single command: decode once, split, four encodes, AAC once. The 1080p rung takes
# the decoded frames as they are; 720p is scaled from the source and 480p and 360p from the
# 720p frames (a third of the pixels to read), which costs less than three scales from 1080p.
single_cmd=(ffmpeg -hide_banner -v error -y -i "$work/clip.mp4"
  -filter_complex "[0:v:0]split=2[full][s];[s]scale=-2:720,split=2[v2][t];[t]scale=-2:480,split=2[v1][u];[u]scale=-2:360[v0];[full]null[v3]"
  -map "[v0]" -map "[v1]" -map "[v2]" -map "[v3]" -map 0:a:0 "${common_video[@]}")
for i in 0 1 2 3; do
  # shellcheck disable=SC2207
  single_cmd+=($(video_opts "$i" "$i"))
done
hls "$work/single" "v:0,name:360p v:1,name:480p v:2,name:720p v:3,name:1080p a:0,name:audio"
single_cmd+=("${audio[@]}" "${hls_args[@]}")

echo "single ffmpeg command..." >&2
start=$(now) cpu_start=$(cpu $$)
"${single_cmd[@]}"
single_seconds=$(since "$start") single_cpu=$(echo "$(cpu $$) - $cpu_start" | bc)
check_output "$work/single" "${names[@]}" audio

# ---- (b) four runs, one per rung, each decoding and scaling the source; the first run
# also makes the audio rendition, so the four together give the same outputs.
echo "four ffmpeg runs..." >&2
start=$(now) cpu_start=$(cpu $$)
for i in 0 1 2 3; do
  run=(ffmpeg -hide_banner -v error -y -i "$work/clip.mp4" -map 0:v:0)
  map="v:0,name:${names[$i]}"
  if [[ "${heights[$i]}" -lt 1080 ]]; then
    run+=(-vf "scale=-2:${heights[$i]}")
  fi
  if [[ "$i" -eq 0 ]]; then
    run+=(-map 0:a:0 "${audio[@]}")
    map+=" a:0,name:audio"
  fi
  hls "$work/four" "$map"
  # shellcheck disable=SC2207
  run+=("${common_video[@]}" $(video_opts "$i" 0) "${hls_args[@]}")
  "${run[@]}"
done
four_seconds=$(since "$start") four_cpu=$(echo "$(cpu $$) - $cpu_start" | bc)
check_output "$work/four" "${names[@]}" audio

# ---- (c) the worker's ladder through the server.
worker_seconds="" worker_cpu="" worker_ffmpeg_cpu="" worker_note="" first_segments=""
run_worker() {
  if [[ ! -x "$sg" ]]; then
    worker_note="missing $sg: run scripts/build"
    return
  fi
  if [[ "$("$sg" plugins 2>/dev/null)" != *$'\ntranscode '* ]]; then
    worker_note="$sg has no transcode plugin yet: rebuild it with the plugin wired"
    return
  fi
  local port key id complete
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  STREAMGATE_LOG__LEVEL=warn STREAMGATE_GATEWAY__ACCESS_LOG=false \
    "$sg" serve --listen "127.0.0.1:$port" --data-dir "$work/data" \
    2>"$work/server.log" &
  server_pid=$!
  for _ in $(seq 1 200); do
    curl -fs -o /dev/null "http://127.0.0.1:$port/healthz" && break
    sleep 0.05
  done
  if ! curl -fs -o /dev/null "http://127.0.0.1:$port/healthz"; then
    worker_note="the server did not come up: $(tail -n 3 "$work/server.log" | tr '\n' ' ')"
    return
  fi
  key=$(cat "$work/data/api_key")
  echo "worker ladder (upload, then wait for ready)..." >&2
  if ! id=$("$sg" upload "$work/clip.mp4" --server "http://127.0.0.1:$port" \
      --api-key "$key" --state-dir "$work/state" --quiet); then
    worker_note="upload failed"
    return
  fi
  complete=$(now)
  local children_start self_start
  children_start=$(cpu "$server_pid") self_start=$(cpu "$server_pid" self)
  # Poll the content every 100 ms until ready; the rungs' first_segment_at (RFC 3339 with
  # ms) are the server's own times, so their resolution is not the poll's.
  python3 - "http://127.0.0.1:$port" "$key" "$id" "$complete" "$duration" \
    >"$work/worker.env" <<'PY' || worker_note="the poller failed"
import datetime, json, shlex, sys, time, urllib.request

base, key, content_id, complete, duration = sys.argv[1:6]
complete = float(complete)
start_timeout = 30.0  # status must leave "uploaded" by then, or nothing is transcoding
overall_timeout = max(600.0, 30.0 * float(duration))


def out(name, value):
    print(f"{name}={shlex.quote(value)}")


def rfc3339(text):
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


request = urllib.request.Request(f"{base}/api/v1/content/{content_id}",
                                 headers={"Authorization": f"Bearer {key}"})
record, status = {}, "?"
while True:
    elapsed = time.time() - complete
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            record = json.load(response)
        status = record.get("status", "?")
    except Exception as error:  # a slow or failing poll is reported, not fatal
        status = f"poll error: {error}"
    if status == "ready":
        out("worker_seconds", f"{elapsed:.3f}")
        break
    if status == "failed":
        out("worker_note", f"transcode failed: {record.get('status_reason', '')}")
        break
    if status == "uploaded" and elapsed > start_timeout:
        out("worker_note", f"still 'uploaded' {start_timeout:.0f} s after complete: the server "
            "does not transcode (transcode/worker plugin not running?)")
        break
    if elapsed > overall_timeout:
        out("worker_note", f"not ready after {overall_timeout:.0f} s (status {status})")
        break
    time.sleep(0.1)

firsts = []
renditions = record.get("renditions")
if not isinstance(renditions, list):
    firsts.append("n/a (no renditions in GET /api/v1/content/{id})")
else:
    for rendition in renditions:
        name = rendition.get("name", "?")
        at = rendition.get("first_segment_at")
        try:
            firsts.append(f"{name} {rfc3339(at) - complete:.2f} s")
        except Exception:
            firsts.append(f"{name} n/a")
out("first_segments", ", ".join(firsts))
PY
  # shellcheck disable=SC1091
  source "$work/worker.env"
  # The server and every ffmpeg it ran and reaped since complete.
  if [[ -n "$worker_seconds" ]]; then
    worker_ffmpeg_cpu=$(echo "$(cpu "$server_pid") - $children_start" | bc)
    worker_cpu=$(echo "$worker_ffmpeg_cpu + $(cpu "$server_pid" self) - $self_start" | bc)
  fi
}
if [[ "$worker" -eq 1 ]]; then
  run_worker
else
  worker_note="skipped (--no-worker)"
fi

# ---- report
ratio() { echo "$1 / $2" | bc -l; }
row() {  # row <label> <wall seconds or empty> <cpu seconds or empty>
  if [[ -n "$2" ]]; then
    printf '%-34s %8.2f %9.2fx %8.2f\n' "$1" "$2" "$(ratio "$duration" "$2")" "${3:-0}"
  else
    printf '%-34s %8s %10s %8s\n' "$1" "n/a" "n/a" "n/a"
  fi
}
echo
printf 'source: %s s 1920x1080 %s fps H.264 + AAC, %.1f MiB; %s cores (%s); load %s\n' \
  "$duration" "$fps" "$(echo "$clip_bytes / 1048576" | bc -l)" "$(nproc)" \
  "$(awk -F': *' '/model name/ {print $2; exit}' /proc/cpuinfo)" "$load"
printf '%-34s %8s %10s %8s\n' "" "seconds" "realtime" "CPU s"
row "single ffmpeg (split, 4 encodes)" "$single_seconds" "$single_cpu"
row "four ffmpeg runs" "$four_seconds" "$four_cpu"
row "worker ladder (complete -> ready)" "$worker_seconds" "$worker_cpu"
printf 'ratio single/four runs: %.2f (CPU %.2f)\n' "$(ratio "$single_seconds" "$four_seconds")" \
  "$(ratio "$single_cpu" "$four_cpu")"
if [[ -n "$worker_seconds" ]]; then
  printf 'ratio worker/single:    %.2f (CPU %.2f; goal <= 1.05)\n' \
    "$(ratio "$worker_seconds" "$single_seconds")" "$(ratio "$worker_cpu" "$single_cpu")"
  printf 'ratio worker/four runs: %.2f (CPU %.2f; goal <= 0.75)\n' \
    "$(ratio "$worker_seconds" "$four_seconds")" "$(ratio "$worker_cpu" "$four_cpu")"
  printf 'worker CPU: ffmpeg %.2f s, server %.2f s\n' "$worker_ffmpeg_cpu" \
    "$(echo "$worker_cpu - $worker_ffmpeg_cpu" | bc)"
  echo "complete -> first segment: ${first_segments:-n/a}"
else
  echo "ratio worker/single:    n/a (goal <= 1.05)"
  echo "ratio worker/four runs: n/a (goal <= 0.75)"
  echo "complete -> first segment: n/a"
fi
if [[ -n "$worker_note" ]]; then
  echo "worker: $worker_note"
fi
echo "(the goals are on wall time; on a busy machine compare the CPU ratios of the same run)"
