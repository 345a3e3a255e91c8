#!/usr/bin/env bash
# Runs the extension benchmarks (real extension binary under the real
# emulator, baselines side by side) and prints the machine and a table of
# every figure with its target. Usage, from anywhere in the repository:
#
#   bench/extension/run.sh            # default repetitions
#   STARTS=50 RUNS=5 bench/extension/run.sh
set -euo pipefail

cd "$(dirname "$0")/../.."
STARTS=${STARTS:-30} # process starts per program in BenchmarkStartToFirstNext
RUNS=${RUNS:-3}      # emulator runs (300 invocations per side each) for the others
COLD=${COLD:-20}     # new execution environments in BenchmarkColdStart and BenchmarkColdStartBilled
ROUNDS=${ROUNDS:-10} # rounds of 40 invocations per side in BenchmarkRelayLatency
PKG=./bench/extension/

out=$(mktemp)
trap 'rm -f "$out"' EXIT

run() {
  echo "+ go test -count=1 -run '^\$' $*" >&2
  go test -count=1 -run '^$' "$@" "$PKG" | tee -a "$out" >&2
}
run -bench 'StartToFirstNext' -benchtime "${STARTS}x"
run -bench 'FirstExport' -benchtime "${STARTS}x"
run -bench 'ColdStart' -benchtime "${COLD}x"
run -bench 'Memory|Invocation' -benchtime "${RUNS}x"
echo "+ go test -count=1 -run '^\$' -bench RelayLatency -benchtime ${ROUNDS}x ./extension/internal/rtproxy/" >&2
go test -count=1 -run '^$' -bench RelayLatency -benchtime "${ROUNDS}x" ./extension/internal/rtproxy/ | tee -a "$out" >&2
run -bench 'RIEClassic' -benchtime "${RUNS}x"
run -bench 'DroppedRuntimeDone' -benchtime "${RUNS}x"
run -bench 'LayerZipSize' -benchtime 1x

echo
echo "date:    $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//;s/ *$//'), $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)"
echo "go:      $(go version | cut -d' ' -f3-)"
echo "load:    $(cut -d' ' -f1-3 /proc/loadavg) (1, 5, 15 min)"
echo
awk '
BEGIN {
  target["ext-p50-ms"] = "<= 10 ms (hosts file as in Lambda)"
  target["ext-dns-p50-ms"] = "the machine hosts file: sandbox.localdomain via DNS"
  target["direct-p50-ms"] = "agent started directly, no launcher"
  target["ratio-p50"] = "vs. minimal extension"
  target["floor-p50-ms"] = "empty Go program, exec to main"
  target["spawn-floor-p50-ms"] = "empty static C program, exec to main"
  target["ext-above-floor-ms"] = "ext-p50 - floor-p50"
  target["baseline-above-floor-ms"] = "baseline-p50 - floor-p50"
  target["ratio-above-floor"] = "vs. minimal extension, above the floor"
  target["idle-rss-MiB"] = "agent alone"
  target["launcher-rss-MiB"] = "the parked launcher"
  target["idle-total-rss-MiB"] = "<= 15 MB (agent + launcher)"
  target["1000spans-rss-MiB"] = "<= 30 MB"
  target["1000spans-hwm-MiB"] = "<= 30 MB"
  target["ext-ready-p50-ms"] = "<= 10 ms: start to the first served export"
  target["next-ratio-p50"] = "vs. a minimal extension on raw sockets, to the first /event/next"
  target["ready-ratio-p50"] = "vs. the same, to the first served export"
  target["added-p99-ms"] = "tail after the response, median of rounds"
  target["added-total-p99-ms"] = "<= 2 ms: total billed p99, with - without, median of rounds"
  target["added-total-p99-max-ms"] = "<= 2 ms in every round"
  target["added-billed-p99-max-ms"] = "billed (whole ms) p99, with - without, worst round"
  target["dropped-added-max-ms"] = "runtimeDone lost: tens of ms, never the deadline"
  target["zip-MiB"] = "<= 8 MB"
  target["billed-added-ms"] = "a cold start billed (INIT + Duration), with - without the layer, median of pairs"
  target["after-response-ms"] = "billed after the response: the flush that waits for the collector"
  target["added-p99-us"] = "<= 200 µs, time to response through the proxy vs. directly"
  target["added-cpu-us"] = "CPU the proxy adds per invocation (holds on a loaded machine)"
  target["heap-peak-added-MiB"] = "bounded: no whole-body copy beyond one (1 MiB)"
  target["6MB-hwm-growth-MiB"] = "bounded while 6 MB bodies pass"
  target["added-billed-p99-ms"] = "<= 2 ms (AWS emulator, classic, no Telemetry API)"
  print "| benchmark | metric | value | target |"
  print "|---|---|---:|---|"
}
/^Benchmark/ {
  name = $1; sub(/^Benchmark/, "", name); sub(/-[0-9]+$/, "", name)
  for (i = 3; i + 1 <= NF; i += 2) {
    if ($(i+1) == "ns/op") continue
    printf "| %s | %s | %s | %s |\n", name, $(i+1), $i, ($(i+1) in target) ? target[$(i+1)] : ""
  }
}' "$out"
