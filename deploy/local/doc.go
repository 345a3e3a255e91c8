// Package local runs the whole of Lambdascope on one machine from real
// binaries: a throwaway ClickHouse, the collector as its own process, and the
// sample functions with the real extension as separate processes under the
// Lambda emulator. The demo and the end-to-end tests stand on it.
package local
