package collector_test

import (
	"bytes"
	"io"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/lambdascope/lambdascope/proto/grpczstd"
	"github.com/lambdascope/lambdascope/proto/ingestv1"
)

// zstdFrameMagic starts every zstd frame.
var zstdFrameMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}

// presetZstd is the registered zstd compressor, except that a message that
// starts as a zstd frame already is sent as it is: a corrupt body can
// then be sent as one. Answers are decompressed by the registered one.
type presetZstd struct{ encoding.Compressor }

func (c presetZstd) Compress(w io.Writer) (io.WriteCloser, error) {
	return &presetWriter{w: w, c: c.Compressor}, nil
}

type presetWriter struct {
	w   io.Writer
	c   encoding.Compressor
	buf bytes.Buffer
}

func (p *presetWriter) Write(b []byte) (int, error) { return p.buf.Write(b) }

func (p *presetWriter) Close() error {
	if bytes.HasPrefix(p.buf.Bytes(), zstdFrameMagic) {
		_, err := p.w.Write(p.buf.Bytes())
		return err
	}
	zw, err := p.c.Compress(p.w)
	if err != nil {
		return err
	}
	if _, err := zw.Write(p.buf.Bytes()); err != nil {
		return err
	}
	return zw.Close()
}

// Defect: a gRPC body that is not zstd, or is corrupt, was refused by gRPC
// (INTERNAL, "failed to decompress") before any interceptor saw it:
// neither counted nor logged. It is counted as undecodable now, and the
// collector goes on taking calls.
func TestCorruptZstdBodyIsCountedAndAnswered(t *testing.T) {
	h := start(t)
	real := encoding.GetCompressor(grpczstd.Name)
	encoding.RegisterCompressor(presetZstd{real})
	t.Cleanup(func() { encoding.RegisterCompressor(real) })
	conn, err := grpc.NewClient(h.srv.Addr(), grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.UseCompressor(grpczstd.Name), grpc.ForceCodecV2(rawBodyCodec{})))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	corrupt := [][]byte{
		append(append([]byte(nil), zstdFrameMagic...), 1, 2, 3, 4, 5, 6, 7, 8, 9),          // unknown dictionary
		append(append([]byte(nil), zstdFrameMagic...), 0x04, 0x58, 0xff, 0xff, 0xff, 0x00), // reserved block type
	}
	for _, body := range corrupt {
		var reply []byte
		err := conn.Invoke(withKey(t.Context(), apiKey), ingestv1.IngestService_Export_FullMethodName, &body, &reply)
		if status.Code(err) != codes.Internal || !strings.Contains(err.Error(), "zstd body") {
			t.Fatalf("corrupt zstd body: got %v, want INTERNAL naming the zstd body", err)
		}
	}
	_, metrics := get(t, "http://"+h.srv.AdminAddr()+"/metrics")
	if !strings.Contains(metrics, `lambdascope_collector_refused_requests_total{reason="undecodable"} 2`) {
		t.Fatalf("corrupt zstd bodies not counted:\n%s", grep(metrics, "refused"))
	}
	// A good body on the same connection is still taken.
	good, err := presetBody(t)
	if err != nil {
		t.Fatal(err)
	}
	var reply []byte
	if err := conn.Invoke(withKey(t.Context(), apiKey), ingestv1.IngestService_Export_FullMethodName, &good, &reply); err != nil {
		t.Fatalf("good body after the corrupt ones: %v", err)
	}
}

// presetBody is a small Ingest API request, marshalled.
func presetBody(t *testing.T) ([]byte, error) {
	t.Helper()
	req := &ingestv1.ExportRequest{BatchId: bytes.Repeat([]byte{7}, 16), Function: &ingestv1.FunctionIdentity{Name: "orders"}}
	return proto.Marshal(req)
}
