#!/usr/bin/env bash
# Counts the instructions the collector executes per demo-shaped span, from
# the Ingest API request to the ClickHouse acknowledgement: the end-to-end
# benchmark's collector round (BenchmarkEndToEndSpans/round1/collector) run
# under valgrind's cachegrind twice, with FEW and MANY requests of 1,000
# spans, the difference divided by the spans between them, so that start-up,
# migrations and the first requests cancel out. The load client and
# ClickHouse run in processes of their own, which valgrind does not follow.
# Garbage collection is off (GOGC=off: the heap of MANY requests fits in
# memory), and the Go scheduler's idle spinning, timers and locks are
# counted apart: how often an idle thread spins depends on timing, not on
# the spans. What is left does not move with the machine's load, unlike
# the CPU time per span, so two builds can be compared run against run.
# Usage, from anywhere in the repository:
#
#   bench/collector/instructions.sh              # 30 and 130 requests
#   FEW=20 MANY=100 bench/collector/instructions.sh
#   TEST_BINARY=/path/to/collector.test bench/collector/instructions.sh   # a build made before
#   KEEP=/some/dir bench/collector/instructions.sh   # keeps cachegrind's files and the annotated difference there
set -euo pipefail

cd "$(dirname "$0")/../.."
FEW=${FEW:-30}
MANY=${MANY:-130}
if (( MANY <= FEW )); then
  echo "MANY ($MANY) must be more than FEW ($FEW)" >&2
  exit 2
fi
command -v valgrind >/dev/null || { echo "valgrind is not installed (apt-get install valgrind)" >&2; exit 2; }

if [[ -n ${KEEP:-} ]]; then
  dir=$KEEP
  mkdir -p "$dir"
else
  dir=$(mktemp -d)
  trap 'rm -rf "$dir"' EXIT
fi
bin=${TEST_BINARY:-}
if [[ -z $bin ]]; then
  bin=$dir/collector.test
  go test -c -o "$bin" ./collector/
fi

for n in "$FEW" "$MANY"; do
  echo "+ cachegrind: $n requests (load $(cut -d' ' -f1 /proc/loadavg))" >&2
  if ! GOGC=off LAMBDASCOPE_BENCH_ROUNDS=1 valgrind --tool=cachegrind --cache-sim=no \
      --cachegrind-out-file="$dir/cg.$n" "$bin" -test.run '^$' \
      -test.bench 'EndToEndSpans/round1/collector$' -test.benchtime "${n}x" >"$dir/log.$n" 2>&1; then
    cat "$dir/log.$n" >&2
    echo "the benchmark failed under valgrind (output above)" >&2
    exit 1
  fi
done
cg_diff "$dir/cg.$FEW" "$dir/cg.$MANY" >"$dir/diff"
cg_annotate --threshold=0 "$dir/diff" >"$dir/annotated"

# Sums the per-function counts by stage. The order of the patterns
# matters: the first that matches a function's file takes it.
awk -v spans=$(( (MANY - FEW) * 1000 )) '
  BEGIN {
    n = split("zstd|dbmodel|encode|memory|grpc|scheduler|runtime|other", order, "|")
    name["zstd"] = "zstd decompression (klauspost/compress)"
    name["dbmodel"] = "spans read into columns (storage/dbmodel)"
    name["encode"] = "the block encoded (storage, ch-go)"
    name["memory"] = "memmove, memclr"
    name["grpc"] = "gRPC, HTTP/2"
    name["scheduler"] = "Go scheduler, timers, locks, system calls (timing-dependent, left out)"
    name["runtime"] = "allocation and the rest of the runtime"
    name["other"] = "the rest (the collector package, protobuf, ...)"
  }
  $1 ~ /^-?[0-9,]+$/ && $2 ~ /%\)$/ || ($2 == "(" && $3 ~ /%\)$/) {
    fn = $NF
    if (fn !~ /:/ || fn ~ /^</) next
    c = $1; gsub(",", "", c)
    if (fn ~ /klauspost/) s = "zstd"
    else if (fn ~ /storage\/dbmodel|unicode\/utf8|protowire|strconv/) s = "dbmodel"
    else if (fn ~ /lambdascope\/storage\.|ch-go/) s = "encode"
    else if (fn ~ /runtime\/mem(move|clr)/) s = "memory"
    else if (fn ~ /grpc|golang.org\/x\/net/) s = "grpc"
    else if (fn ~ /runtime\/(proc|time|lock_spinbit|lock_futex|sys_linux_amd64|asm_amd64|netpoll|netpoll_epoll|sema|chan|select|os_linux|preempt|signal_unix|runtime2|stubs|tagptr|rand|mstats)\.|internal\/runtime\/(syscall|atomic)|syscall\/|internal\/poll|\/net\//) s = "scheduler"
    else if (fn ~ /\/runtime\/|internal\/runtime|gcWriteBarrier/) s = "runtime"
    else s = "other"
    sum[s] += c
  }
  END {
    printf "| stage | instructions per span |\n|---|---|\n"
    for (i = 1; i <= n; i++) { k = order[i]; printf "| %s | %.0f |\n", name[k], sum[k] / spans; if (k != "scheduler") work += sum[k] }
    printf "| **the collector'"'"'s work per span, the scheduler left out** | **%.0f** |\n", work / spans
  }' "$dir/annotated"
echo
echo "date: $(date -u '+%Y-%m-%d %H:%M UTC'); $FEW and $MANY requests of 1,000 demo-shaped spans; $(go version | cut -d' ' -f3)"
