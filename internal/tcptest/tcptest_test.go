package tcptest

import (
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
