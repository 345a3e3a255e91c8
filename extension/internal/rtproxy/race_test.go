//go:build race

package rtproxy_test

// raceEnabled says the race detector is on: it drops some of what is put
// in a sync.Pool on purpose, so pooled buffers are allocated again.
const raceEnabled = true
