#!/usr/bin/env bash
# Sustained load on the collector: a client process sends REQUESTS requests
# of 1,000 items (spans and log records alternately, SENDERS at a time, 64
# unless set) while the
# collector's process is sampled once a second (resident set size, Go heap
# live after GC, all memory the Go runtime holds). Prints 8 samples spread
# over the run and the memory before the load, 5 s in, at its peak and at
# the end, so that one sees whether it stays flat.
# Usage, from anywhere in the repository:
#
#   bench/collector/memory.sh              # 3,000 requests: about a minute or two
#   REQUESTS=10000 bench/collector/memory.sh
set -euo pipefail

cd "$(dirname "$0")/../.."
REQUESTS=${REQUESTS:-3000}
export LAMBDASCOPE_BENCH_SENDERS=${SENDERS:-64} # concurrent senders

out=$(mktemp)
log=$(mktemp)
trap 'rm -f "$out" "$log"' EXIT
echo "+ go test -count=1 -run '^\$' -bench 'CollectorMemory\$' -benchtime ${REQUESTS}x ./collector/" >&2
# The whole output is kept: a benchmark that fails prints why, and the script
# stops with its status instead of a table with holes.
if ! go test -count=1 -run '^$' -bench 'CollectorMemory$' -benchtime "${REQUESTS}x" ./collector/ >"$log" 2>&1; then
  cat "$log" >&2
  echo "collector memory benchmark failed (output above)" >&2
  exit 1
fi
# The collector's log lines land between the benchmark's name and its
# figures, so pick the figures by their units.
grep -E 'bench_test.go|-idle-MiB' "$log" | tee "$out" >&2
if ! grep -q -- '-idle-MiB' "$out"; then
  cat "$log" >&2
  echo "collector memory benchmark printed no figures (output above)" >&2
  exit 1
fi

metric() {
  awk -v u="$1" '/-idle-MiB/ { for (i = 1; i < NF; i++) if ($(i+1) == u) print $i }' "$out"
}

echo
echo "date:    $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//;s/ *$//'), $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)"
echo "go:      $(go version | cut -d' ' -f3-)"
echo "load:    $(cut -d' ' -f1-3 /proc/loadavg) (1, 5, 15 min)"
echo "senders: $LAMBDASCOPE_BENCH_SENDERS concurrent"
echo "sent:    ${REQUESTS} requests of 1,000 items at $(metric item/s | awk '{printf "%.0f", $1}') items/s, sampled for $(metric sampled-s | awk '{printf "%.0f", $1}') s"
echo
echo "| collector process, MiB | idle | 5 s in | peak | end |"
echo "|---|---|---|---|---|"
for m in rss heap-live go-total; do
  printf '| %s | %.1f | %.1f | %.1f | %.1f |\n' "$m" \
    "$(metric "$m-idle-MiB")" "$(metric "$m-start-MiB")" "$(metric "$m-peak-MiB")" "$(metric "$m-end-MiB")"
done
