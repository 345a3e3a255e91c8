// Command stuck-emulator stands in for AWS's emulator in the shutdown
// test: it listens where it is told to, starts a child that shares its
// output and outlives it, prints the child's process ID, and ignores
// SIGTERM, as an emulator whose runtime hangs does. With STUCK_STALL=1 in
// its environment it answers no invocation and prints, at the first, the
// line AWS's emulator prints when its Telemetry API deadlocks.
package main

import (
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
)

func main() {
	addr := flag.String("runtime-interface-emulator-address", "", "invoke endpoint")
	flag.String("runtime-api-address", "", "Runtime API endpoint (unused)")
	flag.Parse()
	signal.Ignore(syscall.SIGTERM)
	child := exec.Command("sleep", "600")
	child.Stdout, child.Stderr = os.Stdout, os.Stderr
	if err := child.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "start child:", err)
		os.Exit(1)
	}
	fmt.Printf("child %d\n", child.Process.Pid)
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "listen:", err)
		os.Exit(1)
	}
	for {
		c, err := ln.Accept()
		if err != nil {
			os.Exit(1)
		}
		go serve(c, os.Getenv("STUCK_STALL") == "1")
	}
}

// serve closes a connection that sends nothing (a check that the port
// listens); an invocation is held, after the stall line when stall is set.
func serve(c net.Conn, stall bool) {
	buf := make([]byte, 4096)
	if n, _ := c.Read(buf); n == 0 || !stall {
		_ = c.Close()
		return
	}
	fmt.Println("[ERROR] Telemetry API: previous batch hasn't processed yet, dropping")
}
