#!/usr/bin/env bash
# The collector's resident memory under anonymous requests that decompress
# big, beside its steady state: the collector binary with an API key, idle,
# then under authenticated load (STEADY requests of 1,000 spans, 8 senders),
# then WAVES waves of CONCURRENT requests at once without an API key, each
# about 15 KB of gzip that decompresses to 15 MiB, over gRPC and then over
# OTLP/HTTP, and 5 s after. VmRSS of the collector process, sampled every
# 100 ms (BenchmarkCollectorMemoryAnonymous in collector/).
# Usage, from anywhere in the repository:
#
#   bench/collector/anonymous-memory.sh                   # 60 at once, 3 waves each: about a minute
#   CONCURRENT=20 WAVES=1 bench/collector/anonymous-memory.sh
set -euo pipefail

cd "$(dirname "$0")/../.."
export LAMBDASCOPE_BENCH_ANON_CONCURRENT=${CONCURRENT:-60}
export LAMBDASCOPE_BENCH_ANON_WAVES=${WAVES:-3}
export LAMBDASCOPE_BENCH_STEADY_REQUESTS=${STEADY:-600}

out=$(mktemp)
log=$(mktemp)
trap 'rm -f "$out" "$log"' EXIT
echo "+ go test -count=1 -run '^\$' -bench CollectorMemoryAnonymous -benchtime 1x ./collector/" >&2
# The whole output is kept: a benchmark that fails prints why, and the script
# stops with its status instead of a table with holes.
if ! go test -count=1 -run '^$' -bench CollectorMemoryAnonymous -benchtime 1x ./collector/ >"$log" 2>&1; then
  cat "$log" >&2
  echo "anonymous memory benchmark failed (output above)" >&2
  exit 1
fi
grep -E 'anonymous_bench_test.go|MiB|refused|each anonymous|^(ok|FAIL|---)' "$log" | tee "$out" >&2
if ! grep -q 'rss-idle-MiB' "$out"; then
  cat "$log" >&2
  echo "anonymous memory benchmark printed no figures (output above)" >&2
  exit 1
fi

metric() {
  awk -v u="$1-MiB" '/rss-idle-MiB/ { for (i = 1; i < NF; i++) if ($(i+1) == u) printf "%.1f", $i }' "$out"
}

echo
echo "date:    $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "commit:  $(git rev-parse --short HEAD)$(git diff --quiet || echo ' (with local changes)')"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//;s/ *$//'), $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)"
echo "go:      $(go version | cut -d' ' -f3-)"
echo "load:    $(cut -d' ' -f1-3 /proc/loadavg) (1, 5, 15 min)"
echo "waves:   $LAMBDASCOPE_BENCH_ANON_WAVES of $LAMBDASCOPE_BENCH_ANON_CONCURRENT anonymous requests at once per protocol; steady: $LAMBDASCOPE_BENCH_STEADY_REQUESTS requests of 1,000 spans"
echo
echo "| collector VmRSS, MiB | idle | steady (median / peak) | anonymous gRPC, peak | anonymous HTTP, peak | 5 s after | VmHWM |"
echo "|---|---|---|---|---|---|---|"
printf '| %s | %s | %s / %s | %s | %s | %s | %s |\n' "$(git rev-parse --short HEAD)" \
  "$(metric rss-idle)" "$(metric rss-steady-median)" "$(metric rss-steady-peak)" \
  "$(metric rss-anonymous-grpc-peak)" "$(metric rss-anonymous-http-peak)" "$(metric rss-5s-after)" "$(metric rss-high-water)"
