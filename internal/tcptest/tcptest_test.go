package tcptest

import (
	"bufio"
	"io"
	"net"
	"testing"
)

// TestServeHandsEveryConnectionToTheHandler: two connections, each echoed
// by its own handler, and the listener closed when the test ends.
func TestServeHandsEveryConnectionToTheHandler(t *testing.T) {
	var ln net.Listener
	t.Run("serve", func(t *testing.T) {
		ln = Serve(t, func(nc net.Conn) {
			defer nc.Close()
			_, _ = io.Copy(nc, nc)
		})
		for _, msg := range []string{"one", "two"} {
			c, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.Write([]byte(msg)); err != nil {
				t.Fatal(err)
			}
			_ = c.(*net.TCPConn).CloseWrite()
			got, err := io.ReadAll(c)
			_ = c.Close()
			if err != nil || string(got) != msg {
				t.Fatalf("echo of %q = %q, %v", msg, got, err)
			}
		}
	})
	if c, err := net.Dial("tcp", ln.Addr().String()); err == nil {
		_ = c.Close()
		t.Fatal("the listener still accepts after the test ended")
	}
}

// TestCallReturnsEverythingUntilTheClose: the handler reads the call's
// line and answers in two writes before it closes; Call returns both.
func TestCallReturnsEverythingUntilTheClose(t *testing.T) {
	ln := Serve(t, func(nc net.Conn) {
		defer nc.Close()
		line, err := bufio.NewReader(nc).ReadString('\n')
		if err != nil {
			return
		}
		_, _ = io.WriteString(nc, "got "+line)
		_, _ = io.WriteString(nc, "bye")
	})
	if got, want := Call(t, ln.Addr().String(), "ping\n"), "got ping\nbye"; got != want {
		t.Fatalf("Call = %q, want %q", got, want)
	}
}
