package launch

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"testing"
	"time"
)

// FuzzDrainGRPC: whatever a client sends on the OTLP/gRPC port after a
// takeover, the launcher answers or closes the connection, never panics
// or hangs.
func FuzzDrainGRPC(f *testing.F) {
	var req bytes.Buffer
	req.WriteString(h2Preface)
	w := bufio.NewWriter(&req)
	writeFrame(w, frameSettings, 0, 0, nil)
	writeFrame(w, frameHeaders, flagEndHeaders, 1, []byte{0x83, 0x86})
	writeFrame(w, frameData, flagEndStream, 1, []byte{0, 0, 0, 0, 2, 0x0a, 0x00})
	writeFrame(w, framePing, 0, 0, make([]byte, 8))
	_ = w.Flush()
	f.Add(req.Bytes())
	f.Add([]byte(h2Preface + "\x00\x40\x00\x00\x00\x00\x00\x00\x01"))
	f.Fuzz(func(t *testing.T, data []byte) {
		client, server := net.Pipe()
		done := make(chan struct{})
		go func() {
			defer close(done)
			drainGRPC(server, &drops{})
		}()
		go func() { _, _ = io.Copy(io.Discard, client) }()
		_ = client.SetWriteDeadline(time.Now().Add(time.Second))
		_, _ = client.Write(data)
		_ = client.Close()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("drainGRPC did not return after the client closed")
		}
	})
}
