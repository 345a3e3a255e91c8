//go:build !race

package rtproxy_test

const raceEnabled = false
