#!/usr/bin/env bash
# Runs the collector's end-to-end benchmarks, for spans and for log records:
# demo-shaped items (storage/storagetest's DemoSpanRequest and
# DemoLogRequest) from an Ingest API request to the ClickHouse
# acknowledgement through the collector (the load client runs in a process
# of its own, so the CPU figure is the collector's), and clickhouse-client
# inserting the same rows in Native format (as many as the collector), round
# after round against the same throwaway ClickHouse, each contender after the
# database's merges ended, the order turning every round.
# Prints the machine and the ratios.
# Usage, from anywhere in the repository:
#
#   bench/collector/run.sh            # 3 rounds of 1,000 requests of 1,000 spans, then of 1,000 log records
#   REQUESTS=300 bench/collector/run.sh
#   SIGNALS=Logs bench/collector/run.sh   # one of them: Spans or Logs
#   SENDERS=4 bench/collector/run.sh      # concurrent senders (default 64)
#   ROUNDS=5 bench/collector/run.sh       # rounds of collector and baselines (default 3)
set -euo pipefail

cd "$(dirname "$0")/../.."
REQUESTS=${REQUESTS:-1000}
SIGNALS=${SIGNALS:-Spans|Logs}
export LAMBDASCOPE_BENCH_SENDERS=${SENDERS:-64}
export LAMBDASCOPE_BENCH_ROUNDS=${ROUNDS:-3}
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
echo "Each round runs the collector and the two baselines on the same server, each"
echo "once the database's merges ended (waits in the log), the collector first in odd"
echo "rounds and last in even ones; the ratio compares the collector with the"
echo "baselines of its own round."
echo
echo "| signal | round | collector items/s | Native, bare copy | ratio | Native, with views | ratio (target ≥ 70 %) | collector CPU per item | GC cycles | client CPU per item |"
echo "|---|---|---|---|---|---|---|---|---|---|"
for signal in Spans Logs; do
  unit=$([[ $signal == Spans ]] && echo span || echo log)
  for r in $(seq 1 20); do
    collector=$(metric "EndToEnd${signal}/round${r}/collector" "${unit}/s")
    [[ -n $collector ]] || break
    native=$(metric "EndToEnd${signal}/round${r}/clickhouse-client-native" "${unit}/s")
    views=$(metric "EndToEnd${signal}/round${r}/clickhouse-client-native-views" "${unit}/s")
    cpu=$(metric "EndToEnd${signal}/round${r}/collector" "cpu-ns/${unit}")
    client=$(metric "EndToEnd${signal}/round${r}/collector" "client-cpu-ns/${unit}")
    cycles=$(metric "EndToEnd${signal}/round${r}/collector" "gc-cycles")
    awk -v s="$signal" -v r="$r" -v c="$collector" -v n="${native:-0}" -v v="${views:-0}" -v p="$cpu" -v q="$client" -v k="${cycles:-0}" 'BEGIN {
      nr = "—"; nratio = "—"; vr = "—"; vratio = "—"
      if (n > 0) { nr = sprintf("%.0f", n); nratio = sprintf("%.0f %%", 100 * c / n) }
      if (v > 0) { vr = sprintf("%.0f", v); vratio = sprintf("%.0f %%", 100 * c / v) }
      printf "| %s | %d | %.0f | %s | %s | %s | %s | %.2f µs | %d | %.2f µs |\n", s, r, c, nr, nratio, vr, vratio, p / 1000, k, q / 1000 }'
  done
done
minimal=$(metric "EndToEndSpans/collector-minimal-spans" "cpu-ns/span")
if [[ -n $minimal ]]; then
  awk -v p="$minimal" 'BEGIN { printf "\nReference: bare spans (a name and times, one trace) cost the collector %.2f µs of CPU each.\n", p / 1000 }'
fi
