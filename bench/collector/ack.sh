#!/usr/bin/env bash
# Time to acknowledgement: what a Lambda extension's flush waits for. Sends
# the spans of one demo trace (the orders function's) per Ingest API
# request, one request at a time, each once the collector is idle again (as
# the first flushes of cold starts come), to two collectors on the same
# throwaway ClickHouse: wal.ack_after 25ms and wal.ack_after 0 (wait for
# ClickHouse), round after round, the order turning every round
# (collector's BenchmarkTimeToAck). Prints the machine, a row per round and
# setting, and the ratio of the two settings' p50 in each round.
# Usage, from anywhere in the repository:
#
#   bench/collector/ack.sh                # 5 rounds of 30 requests per setting
#   ROUNDS=3 REQUESTS=20 bench/collector/ack.sh
set -euo pipefail

cd "$(dirname "$0")/../.."
export LAMBDASCOPE_BENCH_ROUNDS=${ROUNDS:-5}
export LAMBDASCOPE_BENCH_ACK_REQUESTS=${REQUESTS:-30}

out=$(mktemp)
log=$(mktemp)
trap 'rm -f "$out" "$log"' EXIT
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
start=$(date -u '+%Y-%m-%d %H:%M UTC')
echo "+ go test -count=1 -run '^\$' -bench 'TimeToAck' -benchtime 1x ./collector/" >&2
if ! go test -count=1 -run '^$' -bench 'TimeToAck' -benchtime 1x ./collector/ >"$log" 2>&1; then
  cat "$log" >&2
  echo "benchmark failed (output above)" >&2
  exit 1
fi
grep '^BenchmarkTimeToAck/' "$log" | tee "$out" >&2 || true

# metric NAME UNIT prints the value reported in UNIT by the sub-benchmark
# NAME (round<r>/<setting>).
metric() {
  awk -v b="^BenchmarkTimeToAck/$1(-[0-9]+)?\$" -v u="$2" '$1 ~ b { for (i = 1; i < NF; i++) if ($(i+1) == u) print $i }' "$out"
}

echo
echo "date:     $start to $(date -u '+%H:%M UTC')"
echo "machine:  $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//;s/ *$//')"
echo "go:       $(go version | cut -d' ' -f3-)"
echo "load:     before $load_before, after $(cut -d' ' -f1-3 /proc/loadavg) (1, 5, 15 min)"
echo "requests: $LAMBDASCOPE_BENCH_ACK_REQUESTS per round and setting, one at a time"
echo
echo "| round | setting | ack p50 | ack p90 | ack max | acks ≥ 150 ms (flush budget) | stored p50 | load (1 min) |"
echo "|---|---|---|---|---|---|---|---|"
for r in $(seq 1 "$LAMBDASCOPE_BENCH_ROUNDS"); do
  for s in "ack_after=25ms" "ack_after=0"; do
    p50=$(metric "round$r/$s" ack-p50-ms)
    [[ -n $p50 ]] || continue
    printf '| %d | %s | %.1f ms | %.1f ms | %.1f ms | %.0f of %d | %.1f ms | %.2f |\n' "$r" "$s" "$p50" \
      "$(metric "round$r/$s" ack-p90-ms)" "$(metric "round$r/$s" ack-max-ms)" \
      "$(metric "round$r/$s" over-budget)" "$LAMBDASCOPE_BENCH_ACK_REQUESTS" \
      "$(metric "round$r/$s" stored-p50-ms)" "$(metric "round$r/$s" load1)"
  done
done
echo
echo "| round | ack p50, 25ms / 0 | ack p90, 25ms / 0 |"
echo "|---|---|---|"
for r in $(seq 1 "$LAMBDASCOPE_BENCH_ROUNDS"); do
  on=$(metric "round$r/ack_after=25ms" ack-p50-ms)
  off=$(metric "round$r/ack_after=0" ack-p50-ms)
  on90=$(metric "round$r/ack_after=25ms" ack-p90-ms)
  off90=$(metric "round$r/ack_after=0" ack-p90-ms)
  [[ -n $on && -n $off ]] || continue
  awk -v r="$r" -v a="$on" -v b="$off" -v c="$on90" -v d="$off90" 'BEGIN { printf "| %d | %.0f %% | %.0f %% |\n", r, 100 * a / b, 100 * c / d }'
done
