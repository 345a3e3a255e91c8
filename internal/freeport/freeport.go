// Package freeport finds loopback TCP ports nobody listens on, for what
// the project starts on a machine it shares with others: ClickHouse
// servers, the emulator's execution environments, the local stack, and
// test servers.
package freeport

import (
	"fmt"
	"net"
)

// Ports returns n distinct loopback ports that were free a moment ago:
// the kernel picks each, and all are held until every one is picked, so
// none comes twice.
func Ports(n int) ([]int, error) {
	ports := make([]int, 0, n)
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			_ = ln.Close()
		}
	}()
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("find a free port: %w", err)
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// Addr returns a free loopback address, 127.0.0.1:port.
func Addr() (string, error) {
	ports, err := Ports(1)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("127.0.0.1:%d", ports[0]), nil
}
