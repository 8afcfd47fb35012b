# shellcheck shell=bash disable=SC2034
# Shared by the wrk benchmarks (bench/http_bench.sh, bench/segments.sh); sourced, not run.
# Parses --duration/--connections/--threads, makes a work folder removed at exit (kept with
# SG_BENCH_KEEP=1) together with every process listed in `pids`, and provides free_port,
# wait_http and run_wrk.

duration=10s connections=64 threads=2
while [[ $# -gt 0 ]]; do
  case "$1" in
    --duration) duration="$2"; shift 2 ;;
    --connections) connections="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)

work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [[ -n "${SG_BENCH_KEEP:-}" ]]; then
    echo "kept $work" >&2
  else
    rm -rf "$work"
  fi
}
trap cleanup EXIT

require_tools() {  # tool... : exits with a hint when one is not installed (sbin counts)
  local tool
  for tool in "$@"; do
    command -v "$tool" >/dev/null || [[ -x /usr/sbin/$tool ]] ||
      { echo "missing $tool: run scripts/install-deps" >&2; exit 1; }
  done
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

wait_http() {  # url: waits up to 10 s for a 2xx answer
  for _ in $(seq 1 200); do
    curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
    sleep 0.05
  done
  echo "server at $1 did not come up" >&2
  return 1
}

run_wrk() {  # url [extra wrk arguments, e.g. -H "Accept-Encoding: gzip"] -> "rps p99_ms"
  local out rps p99 unit errors
  out=$(wrk -t"$threads" -c"$connections" -d"$duration" --latency "${@:2}" "$1")
  rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
  read -r p99 unit < <(awk '$1=="99%" {v=$2; u=v; sub(/[0-9.]+/,"",u); sub(/[a-z]+$/,"",v); print v, u}' <<<"$out")
  case "$unit" in
    us) p99=$(awk -v v="$p99" 'BEGIN{printf "%.3f", v/1000}') ;;
    s) p99=$(awk -v v="$p99" 'BEGIN{printf "%.3f", v*1000}') ;;
  esac
  errors=$(awk '/Non-2xx|Socket errors/' <<<"$out")
  [[ -n "$errors" ]] && echo "warning: $1: $errors" >&2
  echo "$rps $p99"
}

# ---- A StreamGate with small, quickly transcoded content (bench/segments.sh, bench/auth.sh)

# The config both use: one 240p rung of 2 s segments, access log and rate limits off, two
# I/O threads (nginx runs two workers). Extra YAML (sections not named here) is appended.
streamgate_bench_config() {  # [extra_yaml] -> path of the config file
  cat > "$work/streamgate.yaml" <<'YAML'
transcode:
  ladder: ["240p=300k"]
  segment_seconds: 2
  gop_seconds: 1
gateway:
  access_log: false
  io_threads: 2
  rate_limit:
    enabled: false
log:
  level: warn
YAML
  [[ -n "${1:-}" ]] && printf '%s\n' "$1" >> "$work/streamgate.yaml"
  echo "$work/streamgate.yaml"
}

start_streamgate() {  # config -> sets sg_port and sg_key; the server is stopped at exit
  sg_port=$(free_port)
  "$sg" serve --config "$1" --listen "127.0.0.1:$sg_port" --data-dir "$work/data" \
    2>"$work/streamgate.log" &
  pids+=($!)
  wait_http "http://127.0.0.1:$sg_port/readyz"
  sg_key=$(cat "$work/data/api_key")
}

bench_clip() {  # -> path of a 4 s 426x240 H.264 clip
  [[ -f "$work/clip.mp4" ]] || ffmpeg -hide_banner -v error -y -f lavfi \
    -i testsrc2=duration=4:size=426x240:rate=25 -c:v libx264 -preset ultrafast \
    -pix_fmt yuv420p "$work/clip.mp4"
  echo "$work/clip.mp4"
}

upload_ready() {  # name -> prints the id of a new content once it is ready
  local id status=""
  id=$("$sg" upload "$(bench_clip)" --server "http://127.0.0.1:$sg_port" --api-key "$sg_key" \
    --state-dir "$work/state-$1" --quiet)
  for _ in $(seq 1 600); do
    status=$(curl -fs -H "Authorization: Bearer $sg_key" \
      "http://127.0.0.1:$sg_port/api/v1/content/$id" |
      python3 -c 'import json,sys; print(json.load(sys.stdin)["status"])')
    [[ "$status" == ready ]] && break
    sleep 0.1
  done
  [[ "$status" == ready ]] || { echo "content $id is $status, not ready" >&2; return 1; }
  echo "$id"
}

# ---- nginx, the reference: as many workers as StreamGate's I/O threads, no access log,
# keep-alive as wrk uses it. Runs as root so its workers read the work folder (0700).
start_nginx() {  # http_extra server_body -> sets nginx_port; stopped at exit
  nginx_port=$(free_port)
  mkdir -p "$work/nginx"
  cat > "$work/nginx/nginx.conf" <<CONF
user root;
worker_processes 2;
daemon off;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  client_body_temp_path $work/nginx/body;
  proxy_temp_path $work/nginx/proxy;
  fastcgi_temp_path $work/nginx/fastcgi;
  uwsgi_temp_path $work/nginx/uwsgi;
  scgi_temp_path $work/nginx/scgi;
  $1
  server {
    listen 127.0.0.1:$nginx_port;
    $2
  }
}
CONF
  "$nginx_bin" -c "$work/nginx/nginx.conf" &
  pids+=($!)
}
