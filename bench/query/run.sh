#!/usr/bin/env bash
# Query figures with cold caches on demo-shaped data. For each size, one
# `go test` run generates SIZE demo-shaped spans (12 per trace, the demo's
# attributes and resource, parents) and their invocation reports (2 per
# trace) over 30 days inside ClickHouse, with progress shown, waits for the
# merges, then reads each figure READS times, every read after ClickHouse's
# mark and uncompressed caches and the OS page cache are dropped
# (BenchmarkCold), then again with ClickHouse's caches alone dropped;
# then one trace of 100,000 spans is read and framed for
# Grafana the same way (BenchmarkBigTrace). Prints the machine, the load
# before and after each run, the cache state reached, and a table.
# Results go to docs/benchmarks.md. Usage, from anywhere in the repository:
#
#   bench/query/run.sh                          # 1 M and 10 M spans, 20 cold reads each
#   SIZES=100000000 bench/query/run.sh          # the 100 M set (about 6 GB of disk)
#   SIZES=1000000 READS=5 BIGTRACE=0 bench/query/run.sh
#   BIGTRACE_SPANS=10000 BIGTRACE_READS=2 bench/query/run.sh
#   INGEST=5000 bench/query/run.sh              # the reads while 5,000 demo spans/s are written beside them
#
# Dropping the OS page cache needs root; without it the script says so and
# the figures are cold only for ClickHouse's own caches. The data lives in a
# throwaway server's directory under ${TMPDIR:-/tmp} and goes with it; set
# LAMBDASCOPE_CLICKHOUSE_DSN to a running server and COLD_DATABASE to a
# database name to keep the data between runs.
set -euo pipefail

cd "$(dirname "$0")/../.."
SIZES=${SIZES:-"1000000 10000000"}
READS=${READS:-20}
BIGTRACE=${BIGTRACE:-1}
BIGTRACE_READS=${BIGTRACE_READS:-5}
BIGTRACE_SPANS=${BIGTRACE_SPANS:-100000}
COLD_DATABASE=${COLD_DATABASE:-}
INGEST=${INGEST:-0}

out=$(mktemp)
log=$(mktemp)
trap 'rm -f "$out" "$log"' EXIT

load() { cut -d' ' -f1-3 /proc/loadavg; }

# run LABEL ARGS... runs go test on bench/query with ARGS, shows its output
# as it comes (without the server's INFO lines), keeps the benchmark lines
# tagged with LABEL, and stops the script with the error if it fails.
run() {
  local label=$1
  shift
  local before
  before=$(load)
  echo "+ go test ./bench/query/ -run '^\$' -count 1 -timeout 24h -v $*" >&2
  if ! go test ./bench/query/ -run '^$' -count 1 -timeout 24h -v "$@" 2>&1 | tee "$log" | { grep --line-buffered -v ' INFO ' || true; } >&2; then
    echo "query benchmark failed: $label (output above; the whole of it was $(wc -l <"$log") lines)" >&2
    exit 1
  fi
  if ! grep -q '^Benchmark.*ns/op' "$log"; then
    echo "query benchmark printed no figures: $label" >&2
    exit 1
  fi
  grep '^Benchmark.*ns/op' "$log" | sed "s/^/$label /" >>"$out"
  grep 'caches dropped' "$log" | sed "s/^ *[a-z_]*\.go:[0-9]*: /$label cache: /" | sort -u >>"$out" || true
  echo "$label load: $before before, $(load) after" >>"$out"
}

for n in $SIZES; do
  # About 60 bytes per span over every table, with the invocations, while
  # parts are not yet merged; refuse to start what cannot finish.
  need=$((n * 60 / 1024))
  free=$(df -Pk "${TMPDIR:-/tmp}" | awk 'NR == 2 {print $4}')
  if [[ -z $COLD_DATABASE && $free -lt $need ]]; then
    echo "$n spans need about $((need / 1048576)) GiB in ${TMPDIR:-/tmp}, which has $((free / 1048576)) GiB free" >&2
    exit 1
  fi
  args=(-bench '^BenchmarkCold$' -benchtime "${READS}x" -cold.spans "$n")
  [[ -n $COLD_DATABASE ]] && args+=(-cold.database "${COLD_DATABASE}_$n")
  [[ $INGEST != 0 ]] && args+=(-cold.ingest "$INGEST")
  run "$n" "${args[@]}"
done
if [[ $BIGTRACE == 1 ]]; then
  run bigtrace -bench '^BenchmarkBigTrace$' -benchtime "${BIGTRACE_READS}x" -bigtrace.spans "$BIGTRACE_SPANS"
fi

echo
echo "date:    $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "commit:  $(git rev-parse --short HEAD)$(git diff --quiet || echo ' (with local changes)')"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//;s/ *$//'), $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)"
echo "go:      $(go version | cut -d' ' -f3-)"
echo "server:  ClickHouse $(dpkg-query -W -f '${Version}' clickhouse-server 2>/dev/null || echo unknown) (Debian package)"
grep -E '^[^ ]+ (load|cache):' "$out" | sed 's/^/         /'
echo
echo "| spans | read | caches dropped before each read | p50 | max | mean | warm p50 (same trace again) | target |"
echo "|---|---|---|---|---|---|---|---|"
awk '
function metric(u,   i) { for (i = 3; i < NF; i++) if ($(i+1) == u) return $i; return "" }
function ms(v) { return v == "" ? "—" : sprintf("%.1f ms", v) }
$2 ~ /^BenchmarkCold\// {
  size = $1; name = $2; sub(/^BenchmarkCold\//, "", name); sub(/-[0-9]+$/, "", name)
  state = "ClickHouse caches and the page cache"
  if (name ~ /^page-cache-kept\//) state = "ClickHouse caches only"
  if (metric("os-cache-dropped") != 1) state = "ClickHouse caches only"
  sub(/^page-cache-(dropped|kept)\//, "", name)
  target = ""
  if (name == "trace-by-id") target = size >= 100000000 ? "<= 100 ms" : (size >= 10000000 ? "<= 50 ms" : "")
  if (name == "cost-30d" && size >= 100000000) target = "<= 200 ms"
  if (name ~ /^search-day/ && size >= 100000000) target = "<= 300 ms"
  printf "| %s | %s | %s | %s | %s | %s | %s | %s |\n", size, name, state, ms(metric("p50-ms")), ms(metric("max-ms")),
    ms(metric("ns/op") / 1e6), ms(metric("warm-p50-ms")), target
}' "$out"
if [[ $BIGTRACE == 1 ]]; then
  echo
  echo "| one trace, read, assembled and framed (cold) | mean | read + assembly | frame | CPU of the process | warm, again at once | peak heap | heap per span | allocated | target |"
  echo "|---|---|---|---|---|---|---|---|---|---|"
  awk -v spans="$BIGTRACE_SPANS" '
function metric(u,   i) { for (i = 3; i < NF; i++) if ($(i+1) == u) return $i; return "" }
$2 ~ /^BenchmarkBigTrace/ {
  printf "| %d spans | %.0f ms | %.0f ms | %.0f ms | %.0f ms | %.0f ms | %.1f MiB | %.0f B | %.0f MiB per read | <= 1 s, memory bounded |\n",
    spans, metric("ns/op") / 1e6, metric("assemble-ms"), metric("frame-ms"), metric("cpu-ms"), metric("warm-ms"),
    metric("peak-heap-MiB"), metric("heap-B/span"), metric("B/op") / 1048576
}' "$out"
fi
