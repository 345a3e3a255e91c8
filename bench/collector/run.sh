#!/usr/bin/env bash
# Runs the collector's end-to-end benchmarks, for spans and for log records:
# items from an Ingest API request to the ClickHouse acknowledgement through
# the collector (the load client runs in a process of its own, so the CPU
# figure is the collector's), and clickhouse-client inserting the same rows
# in Native format, side by side against the same throwaway ClickHouse.
# Prints the machine and the ratios.
# Usage, from anywhere in the repository:
#
#   bench/collector/run.sh            # 3,000 requests of 1,000 spans, then of 1,000 log records
#   REQUESTS=300 bench/collector/run.sh
#   SIGNALS=Logs bench/collector/run.sh   # one of them: Spans or Logs
#   SENDERS=4 bench/collector/run.sh      # concurrent senders (default 64)
set -euo pipefail

cd "$(dirname "$0")/../.."
REQUESTS=${REQUESTS:-3000}
SIGNALS=${SIGNALS:-Spans|Logs}
export LAMBDASCOPE_BENCH_SENDERS=${SENDERS:-64}
if (( REQUESTS < 100 )); then
  echo "REQUESTS must be at least 100 (the Native baseline copies 100,000 of the collector's rows)" >&2
  exit 2
fi

out=$(mktemp)
log=$(mktemp)
trap 'rm -f "$out" "$log"' EXIT
echo "+ go test -count=1 -run '^\$' -bench 'EndToEnd(${SIGNALS})' -benchtime ${REQUESTS}x ./collector/" >&2
# The whole output is kept: a benchmark that fails prints why, and the script
# stops with its status instead of a table with holes.
if ! go test -count=1 -run '^$' -bench "EndToEnd(${SIGNALS})" -benchtime "${REQUESTS}x" ./collector/ >"$log" 2>&1; then
  cat "$log" >&2
  echo "collector benchmarks failed (output above)" >&2
  exit 1
fi
grep '^Benchmark' "$log" | tee "$out" >&2 || true

# metric BENCHMARK UNIT prints the value reported in UNIT by BENCHMARK (the
# whole name, without the -GOMAXPROCS suffix).
metric() {
  awk -v b="^Benchmark$1(-[0-9]+)?\$" -v u="$2" '$1 ~ b { for (i = 1; i < NF; i++) if ($(i+1) == u) print $i }' "$out"
}

echo
echo "date:    $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//;s/ *$//'), $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)"
echo "go:      $(go version | cut -d' ' -f3-)"
echo "load:    $(cut -d' ' -f1-3 /proc/loadavg) (1, 5, 15 min)"
echo "senders: $LAMBDASCOPE_BENCH_SENDERS concurrent, each waiting for its acknowledgement"
echo
echo "clickhouse-client Native inserts into a bare copy of the table (no materialized"
echo "views) and into the table itself (through its views, as the collector's inserts)."
echo
echo "| figure | collector | clickhouse-client Native | ratio | target |"
echo "|---|---|---|---|---|"
for signal in Spans Logs; do
  unit=$([[ $signal == Spans ]] && echo span || echo log)
  collector=$(metric "EndToEnd${signal}/collector" "${unit}/s")
  [[ -n $collector ]] || continue
  native=$(metric "EndToEnd${signal}/clickhouse-client-native" "${unit}/s")
  views=$(metric "EndToEnd${signal}/clickhouse-client-native-views" "${unit}/s")
  cpu=$(metric "EndToEnd${signal}/collector" "cpu-ns/${unit}")
  client=$(metric "EndToEnd${signal}/collector" "client-cpu-ns/${unit}")
  for base in "bare copy:$native" "with views:$views"; do
    awk -v u="$unit" -v c="$collector" -v what="${base%%:*}" -v n="${base#*:}" 'BEGIN {
      if (n > 0) printf "| %ss/s end to end (Native: %s) | %.0f | %.0f | %.0f%% | ≥ 50%% |\n", u, what, c, n, 100 * c / n
      else printf "| %ss/s end to end (Native: %s) | %.0f | — | — | ≥ 50%% |\n", u, what, c }'
  done
  awk -v u="$unit" -v p="$cpu" 'BEGIN { printf "| CPU per %s, collector process | %.1f µs | — | — | %s |\n", u, p / 1000, u == "span" ? "≤ 2 µs" : "—" }'
  awk -v u="$unit" -v p="$client" 'BEGIN { printf "| CPU per %s, load client process (not the collector) | %.1f µs | — | — | — |\n", u, p / 1000 }'
done
