#!/usr/bin/env bash
# Runs the collector's end-to-end benchmark: spans from an Ingest API
# request to the ClickHouse acknowledgement through the collector (the load
# client runs in a process of its own, so the CPU figure is the collector's), and
# clickhouse-client inserting the same rows in Native format, side by side
# against the same throwaway ClickHouse. Prints the machine and the ratio.
# Usage, from anywhere in the repository:
#
#   bench/collector/run.sh            # 300 requests of 1,000 spans
#   REQUESTS=1000 bench/collector/run.sh
set -euo pipefail

cd "$(dirname "$0")/../.."
REQUESTS=${REQUESTS:-300}
if (( REQUESTS < 100 )); then
  echo "REQUESTS must be at least 100 (the Native baseline copies 100,000 of the collector's rows)" >&2
  exit 2
fi

out=$(mktemp)
trap 'rm -f "$out"' EXIT
echo "+ go test -count=1 -run '^\$' -bench EndToEndSpans -benchtime ${REQUESTS}x ./collector/" >&2
go test -count=1 -run '^$' -bench EndToEndSpans -benchtime "${REQUESTS}x" ./collector/ 2>/dev/null | grep '^Benchmark' | tee "$out" >&2

collector=$(awk '/EndToEndSpans\/collector/ { for (i = 1; i < NF; i++) if ($(i+1) == "spans/s") print $i }' "$out")
cpu=$(awk '/EndToEndSpans\/collector/ { for (i = 1; i < NF; i++) if ($(i+1) == "cpu-ns/span") print $i }' "$out")
client=$(awk '/EndToEndSpans\/collector/ { for (i = 1; i < NF; i++) if ($(i+1) == "client-cpu-ns/span") print $i }' "$out")
native=$(awk '/EndToEndSpans\/clickhouse-client-native/ { for (i = 1; i < NF; i++) if ($(i+1) == "spans/s") print $i }' "$out")

echo
echo "date:    $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//;s/ *$//'), $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)"
echo "go:      $(go version | cut -d' ' -f3-)"
echo "load:    $(cut -d' ' -f1-3 /proc/loadavg) (1, 5, 15 min)"
echo
echo "| figure | collector | clickhouse-client Native | ratio | target |"
echo "|---|---|---|---|---|"
awk -v c="$collector" -v n="$native" 'BEGIN { printf "| spans/s end to end | %.0f | %.0f | %.0f%% | ≥ 50%% |\n", c, n, 100 * c / n }'
awk -v p="$cpu" 'BEGIN { printf "| CPU per span, collector process | %.1f µs | — | — | ≤ 2 µs |\n", p / 1000 }'
awk -v p="$client" 'BEGIN { printf "| CPU per span, load client process (not the collector) | %.1f µs | — | — | — |\n", p / 1000 }'
