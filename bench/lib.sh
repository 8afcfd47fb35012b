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

run_wrk() {  # url -> "rps p99_ms"
  local out rps p99 unit errors
  out=$(wrk -t"$threads" -c"$connections" -d"$duration" --latency "$1")
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
