package launch

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
)

func TestHostsLookup(t *testing.T) {
	h := hostsFile("# comment\n" +
		"::1 localhost ip6-localhost\n" +
		"127.0.0.1\tlocalhost   LocalHost.LocalDomain # trailing\n" +
		"169.254.100.1 sandbox.localdomain sandbox\n" +
		"fe80::1%eth0 linklocal\n" +
		"not-an-address broken\n" +
		"10.0.0.1\n" +
		"::ffff:10.0.0.2 mapped\n" +
		"10.9.9.9 crlf\r\n" +
		"10.8.8.8 last-without-newline")
	for name, want := range map[string]string{
		"localhost":             "127.0.0.1", // IPv4 preferred, though IPv6 came first
		"ip6-localhost":         "::1",
		"localhost.localdomain": "127.0.0.1", // names are case-insensitive
		"sandbox.localdomain":   "169.254.100.1",
		"sandbox":               "169.254.100.1",
		"mapped":                "10.0.0.2",
		"crlf":                  "10.9.9.9",
		"last-without-newline":  "10.8.8.8",
	} {
		if got, ok := h.lookup(name); !ok || got.String() != want {
			t.Errorf("%s = %v (found %v), want %s", name, got, ok, want)
		}
	}
	for _, name := range []string{"linklocal", "broken", "10.0.0.1", "#"} {
		if got, ok := h.lookup(name); ok {
			t.Errorf("%s = %v, want no entry", name, got)
		}
	}
}

func TestAddrPortOf(t *testing.T) {
	h := &names{hosts: hostsFile("::1 localhost\n127.0.0.2 sandbox.localdomain\n"), read: true}
	for in, want := range map[string]string{
		"127.0.0.1:9001":           "127.0.0.1:9001",
		"[::1]:4317":               "[::1]:4317",
		"LOCALHOST:4318":           "127.0.0.1:4318", // always, as package net binds it
		"sandbox.localdomain:0":    "127.0.0.2:0",
		"[::ffff:127.0.0.1]:65535": "127.0.0.1:65535",
	} {
		got, err := h.addrPortOf(in)
		if err != nil || got.String() != want {
			t.Errorf("addrPortOf(%q) = %v, %v; want %s", in, got, err, want)
		}
	}
	for _, in := range []string{"localhost", "localhost:http", "localhost:65536", "nowhere.invalid:1"} {
		if got, err := h.addrPortOf(in); err == nil {
			t.Errorf("addrPortOf(%q) = %v, want an error", in, got)
		}
	}
	// Addresses and localhost need no hosts file.
	lazy := &names{path: filepath.Join(t.TempDir(), "never-read")}
	for _, in := range []string{"127.0.0.1:9001", "localhost:4317", "[::1]:4318"} {
		if _, err := lazy.addrPortOf(in); err != nil {
			t.Errorf("addrPortOf(%q): %v", in, err)
		}
	}
	if lazy.read {
		t.Error("the hosts file was read for an address or localhost")
	}
}

func TestReadHosts(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hosts")
	// Larger than the first read, so that reading goes on.
	big := make([]byte, 0, 10000)
	for i := 0; len(big) < 9000; i++ {
		big = append(big, "10.1.0.1 filler-"+strconv.Itoa(i)+"\n"...)
	}
	big = append(big, "127.0.0.9 sandbox.localdomain\n"...)
	if err := os.WriteFile(path, big, 0o600); err != nil {
		t.Fatal(err)
	}
	if got, _ := readHosts(path).lookup(SandboxHost); got.String() != "127.0.0.9" {
		t.Errorf("sandbox.localdomain = %v, want 127.0.0.9 from the file's end", got)
	}
	if h := readHosts(filepath.Join(t.TempDir(), "missing")); len(h) != 0 {
		t.Errorf("a missing file gave %v", h)
	}
}

func TestListenAndDialFD(t *testing.T) {
	for _, host := range []string{"127.0.0.1", "::1"} {
		t.Run(host, func(t *testing.T) {
			fd, port, err := listenFD(netip.AddrPortFrom(netip.MustParseAddr(host), 0))
			if err != nil {
				t.Fatalf("listen: %v", err)
			}
			f := os.NewFile(uintptr(fd), "listener")
			ln, err := net.FileListener(f)
			_ = f.Close()
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			if got := ln.Addr().(*net.TCPAddr).Port; got != port || port == 0 {
				t.Fatalf("bound port %d, reported %d", got, port)
			}
			go func() {
				c, err := ln.Accept()
				if err == nil {
					_, _ = c.Write([]byte("hello"))
					_ = c.Close()
				}
			}()
			cfd, err := dialFD(netip.AddrPortFrom(netip.MustParseAddr(host), uint16(port)))
			if err != nil {
				t.Fatalf("dial: %v", err)
			}
			c := fdConn(cfd)
			defer c.Close()
			buf := make([]byte, 16)
			n, err := c.Read(buf)
			if err != nil || string(buf[:n]) != "hello" {
				t.Errorf("read %q, %v", buf[:n], err)
			}
			if flags, err := fcntl(cfd, syscall.F_GETFL); err != nil || flags&syscall.O_NONBLOCK != 0 {
				t.Errorf("connection flags %#x (%v): want blocking", flags, err)
			}
		})
	}
}

func TestDialRefused(t *testing.T) {
	fd, port, err := listenFD(netip.MustParseAddrPort("127.0.0.1:0"))
	if err != nil {
		t.Fatal(err)
	}
	_ = syscall.Close(fd) // nothing listens there now
	_, err = dialFD(netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port)))
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("dial a closed port: %v, want connection refused", err)
	}
}

func TestListenTaken(t *testing.T) {
	fd, port, err := listenFD(netip.MustParseAddrPort("127.0.0.1:0"))
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(fd)
	_, _, err = listenFD(netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port)))
	if !errors.Is(err, syscall.EADDRINUSE) {
		t.Errorf("listen on a taken port: %v, want address in use", err)
	}
}

func fcntl(fd, cmd int) (int, error) {
	r, _, errno := syscall.Syscall(syscall.SYS_FCNTL, uintptr(fd), uintptr(cmd), 0)
	if errno != 0 {
		return 0, errno
	}
	return int(r), nil
}
