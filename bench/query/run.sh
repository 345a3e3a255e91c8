#!/usr/bin/env bash
# Query figures at scale: generates 1 M and 10 M spans and invocation
# reports over 30 days straight into ClickHouse (querytest.Generate, about
# 30 s and 5 min on the 2-core build machine) and runs BenchmarkScale on
# each. Results go to the "Query" section of docs/benchmarks.md.
#
#   bench/query/run.sh              # both sizes, 20 runs per figure
#   SIZES=1000000 bench/query/run.sh
#
# Each size is kept in its own database (scale_<size>) on the server the
# query package's tests use; set LAMBDASCOPE_CLICKHOUSE_DSN to a running
# server to keep the data between runs, otherwise a throwaway server is
# started and the data generated again.
set -euo pipefail
cd "$(dirname "$0")/../.."
SIZES=${SIZES:-"1000000 10000000"}
BENCHTIME=${BENCHTIME:-20x}
date -u
echo "$(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(free -g | awk '/Mem:/ {print $2}') GiB; $(uptime | sed 's/.*load/load/')"
for n in $SIZES; do
	echo "== $n spans, $n invocations"
	# A failing benchmark's error is shown and ends the script with its status.
	go test ./query/ -run '^$' -bench BenchmarkScale -benchtime "$BENCHTIME" -count 1 -timeout 60m -v \
		-scale.spans "$n" -scale.invocations "$n" -scale.database "scale_$n" | { grep -v ' INFO ' || true; }
done
