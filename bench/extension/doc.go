// Package extbench measures the Lambdascope extension as Lambda runs it: the
// real static binary under the real emulator, against baselines measured
// side by side in the same run (a minimal extension doing only the two
// Extensions API calls; the same function without the extension). The
// measurements are Go benchmarks, so they run only with -bench; run.sh
// runs them and prints the table docs/benchmarks.md records.
package extbench
