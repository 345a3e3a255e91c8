package grpczstd_test

import (
	"bytes"
	"io"
	"strings"
	"testing"

	"google.golang.org/grpc/encoding"

	"github.com/lambdascope/lambdascope/proto/grpczstd"
)

func TestRegisteredCompressorRoundTrips(t *testing.T) {
	c := encoding.GetCompressor(grpczstd.Name)
	if c == nil {
		t.Fatalf("no compressor registered as %q", grpczstd.Name)
	}
	payloads := map[string][]byte{
		"empty":      {},
		"small":      []byte("hello"),
		"repetitive": bytes.Repeat([]byte("span-attribute="), 100000),
	}
	for name, want := range payloads {
		t.Run(name, func(t *testing.T) {
			// Twice, so the second round uses pooled encoder and decoder.
			for round := range 2 {
				var buf bytes.Buffer
				w, err := c.Compress(&buf)
				if err != nil {
					t.Fatalf("compress: %v", err)
				}
				if _, err := w.Write(want); err != nil {
					t.Fatalf("write: %v", err)
				}
				if err := w.Close(); err != nil {
					t.Fatalf("close: %v", err)
				}
				if len(want) > 1000 && buf.Len() >= len(want)/10 {
					t.Errorf("round %d: %d bytes compressed to %d; zstd should do far better on repetitive data", round, len(want), buf.Len())
				}
				r, err := c.Decompress(&buf)
				if err != nil {
					t.Fatalf("decompress: %v", err)
				}
				got, err := io.ReadAll(r)
				if err != nil {
					t.Fatalf("read: %v", err)
				}
				if !bytes.Equal(got, want) {
					t.Fatalf("round %d: got %d bytes, want %d", round, len(got), len(want))
				}
			}
		})
	}
}

func TestDecompressRejectsGarbage(t *testing.T) {
	c := encoding.GetCompressor(grpczstd.Name)
	r, err := c.Decompress(strings.NewReader("this is not zstd"))
	if err == nil {
		_, err = io.ReadAll(r)
	}
	if err == nil {
		t.Fatal("garbage input decompressed without error")
	}
}
