//go:build ignore

// Floor is the floor of the start-up benchmark, built from this file alone
// (go build floor.go): a Go program whose main only writes a newline to
// standard error. Built like the extension (static, stripped), the time from
// exec to that byte is what every Go program pays on the machine before its
// own code runs: process creation and the Go runtime's start.
package main

func main() { println() }
