package chtest

import (
	"bufio"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// echoServer answers every line with the same line.
func echoServer(t *testing.T) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = lis.Close() })
	go func() {
		for {
			c, err := lis.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_, _ = io.Copy(c, c)
			}()
		}
	}()
	return lis.Addr().String()
}

// roundTrip sends line over a new connection to addr and returns the echo,
// or "" when the connection fails or no whole answer comes: a proxy that
// cuts after a few bytes may still let their echo through before closing.
func roundTrip(t *testing.T, addr, line string) string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return ""
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(300 * time.Millisecond))
	if _, err := io.WriteString(c, line+"\n"); err != nil {
		return ""
	}
	got, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return ""
	}
	return strings.TrimSuffix(got, "\n")
}

func TestProxyFaults(t *testing.T) {
	p := NewProxy(t, echoServer(t))
	if got := roundTrip(t, p.Addr(), "hello"); got != "hello" {
		t.Fatalf("through the proxy: %q, want hello", got)
	}
	p.Cut()
	if got := roundTrip(t, p.Addr(), "hello"); got != "" {
		t.Errorf("after Cut: %q, want no answer", got)
	}
	p.Resume("")
	if got := roundTrip(t, p.Addr(), "hello"); got != "hello" {
		t.Errorf("after Resume: %q, want hello", got)
	}
	p.CutAfter(3)
	if got := roundTrip(t, p.Addr(), "hello"); got != "" {
		t.Errorf("with CutAfter(3): %q, want the connection cut", got)
	}
	p.CutAfter(0)
	p.MuteAfter(2)
	if got := roundTrip(t, p.Addr(), "hello"); got != "" {
		t.Errorf("with MuteAfter(2): %q, want the answer muted", got)
	}
	p.MuteAfter(-1)
	if got := roundTrip(t, p.Addr(), "hello"); got != "hello" {
		t.Errorf("unmuted: %q, want hello", got)
	}
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	time.Sleep(50 * time.Millisecond) // let the proxy accept it
	p.DropAll()
	_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("read after DropAll: %v, want EOF", err)
	}
}
