package launch

import (
	"bufio"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// After a takeover the function's exporters and the Telemetry API still
// send to the extension's ports. The launcher answers them with success,
// as fast as it can, rather than refusing them: an exporter that is
// refused retries with backoff, and an OpenTelemetry SDK that flushes
// before the function answers would hold the answer for it. What they sent
// is dropped and counted (requests and bytes; the launcher decodes
// nothing).

// drops counts what was answered and dropped after a takeover.
type drops struct {
	otlpRequests, otlpBytes         atomic.Int64
	telemetryPushes, telemetryBytes atomic.Int64
}

// drainIdle bounds how long a drained connection may stay silent.
const drainIdle = 5 * time.Minute

// drainKind says what an HTTP/1.1 drain serves.
type drainKind int

const (
	kindOTLP drainKind = iota
	kindTelemetry
)

// drainHTTP answers HTTP/1.1 requests (OTLP/HTTP exports, Telemetry API
// pushes) with 200 and an empty answer of the request's format, reading
// and dropping their bodies, until the client closes the connection.
func drainHTTP(kind drainKind) func(net.Conn, *drops) {
	return func(c net.Conn, d *drops) {
		defer c.Close()
		r := bufio.NewReader(c)
		for {
			_ = c.SetReadDeadline(time.Now().Add(drainIdle))
			line, err := readLine(r)
			if err != nil {
				return
			}
			proto := string(line[strings.LastIndexByte(string(line), ' ')+1:])
			hs, err := readHeaders(r)
			if err != nil {
				return
			}
			req := response{proto: proto, header: hs}
			if strings.EqualFold(req.get("Expect"), "100-continue") {
				if _, err := io.WriteString(c, "HTTP/1.1 100 Continue\r\n\r\n"); err != nil {
					return
				}
			}
			n, err := discardBody(r, req)
			if kind == kindTelemetry {
				d.telemetryPushes.Add(1)
				d.telemetryBytes.Add(n)
			} else {
				d.otlpRequests.Add(1)
				d.otlpBytes.Add(n)
			}
			if err != nil {
				return
			}
			answer := "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n"
			if kind == kindOTLP {
				// An empty Export*ServiceResponse: full success.
				answer = "HTTP/1.1 200 OK\r\nContent-Type: application/x-protobuf\r\nContent-Length: 0\r\n"
				if strings.Contains(strings.ToLower(req.get("Content-Type")), "json") {
					answer = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n"
				}
			}
			closing := req.closes() || !strings.HasPrefix(proto, "HTTP/1.")
			if closing {
				answer += "Connection: close\r\n"
			}
			answer += "\r\n"
			if strings.Contains(answer, "application/json") {
				answer += "{}"
			}
			if _, err := io.WriteString(c, answer); err != nil || closing {
				return
			}
		}
	}
}

// discardBody reads and drops a request's body (Content-Length or chunked)
// and returns its size.
func discardBody(r *bufio.Reader, req response) (int64, error) {
	if strings.EqualFold(req.get("Transfer-Encoding"), "chunked") {
		var total int64
		for {
			line, err := readLine(r)
			if err != nil {
				return total, err
			}
			size, _, _ := strings.Cut(string(line), ";")
			n, err := strconv.ParseInt(strings.TrimSpace(size), 16, 64)
			if err != nil || n < 0 {
				return total, errors.New("malformed chunk size")
			}
			if n == 0 {
				_, err := readHeaders(r)
				return total, err
			}
			m, err := io.CopyN(io.Discard, r, n)
			total += m
			if err != nil {
				return total, err
			}
			if crlf, err := readLine(r); err != nil || len(crlf) != 0 {
				return total, errors.New("chunk not followed by CRLF")
			}
		}
	}
	v := req.get("Content-Length")
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, errors.New("bad Content-Length")
	}
	return io.CopyN(io.Discard, r, n)
}

// HTTP/2 frame types and flags drainGRPC reads and writes (RFC 9113).
const (
	frameData         = 0x0
	frameHeaders      = 0x1
	frameRSTStream    = 0x3
	frameSettings     = 0x4
	framePing         = 0x6
	frameGoAway       = 0x7
	frameWindowUpdate = 0x8

	flagEndStream  = 0x1
	flagAck        = 0x1
	flagEndHeaders = 0x4

	// maxFrame is the largest frame a peer may send without being told
	// otherwise (SETTINGS_MAX_FRAME_SIZE's initial value).
	maxFrame = 1 << 14
)

// h2Preface opens every HTTP/2 connection.
const h2Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

// Header blocks of the answer to an export (HPACK, RFC 7541): ":status:
// 200" (static entry 8), "content-type: application/grpc" (a literal with
// the static name 31, not indexed), and the trailer "grpc-status: 0" (a
// literal with a literal name, not indexed). The launcher keeps no HPACK
// table: it decodes no header and indexes none of its own.
var (
	grpcHeaders  = []byte("\x88\x0f\x10\x10application/grpc")
	grpcTrailers = []byte("\x00\x0bgrpc-status\x010")
	// grpcEmpty is a gRPC message of 0 bytes: an empty
	// Export*ServiceResponse.
	grpcEmpty = []byte{0, 0, 0, 0, 0}
)

// drainGRPC answers OTLP/gRPC exports (gRPC over HTTP/2 without TLS) with
// an empty response and status OK, dropping what they carry. It speaks as
// little HTTP/2 as a client needs: settings and pings acknowledged, flow
// control windows given back as data arrives, each stream answered when
// its request ends.
func drainGRPC(c net.Conn, d *drops) {
	defer c.Close()
	r := bufio.NewReader(c)
	w := bufio.NewWriter(c)
	_ = c.SetReadDeadline(time.Now().Add(drainIdle))
	preface := make([]byte, len(h2Preface))
	if _, err := io.ReadFull(r, preface); err != nil || string(preface) != h2Preface {
		return
	}
	writeFrame(w, frameSettings, 0, 0, nil)
	if w.Flush() != nil {
		return
	}
	var head [9]byte
	payload := make([]byte, maxFrame)
	for {
		_ = c.SetReadDeadline(time.Now().Add(drainIdle))
		if _, err := io.ReadFull(r, head[:]); err != nil {
			return
		}
		n := int(head[0])<<16 | int(head[1])<<8 | int(head[2])
		typ, flags := head[3], head[4]
		stream := binary.BigEndian.Uint32(head[5:]) & 0x7fffffff
		if n > maxFrame {
			return
		}
		if _, err := io.ReadFull(r, payload[:n]); err != nil {
			return
		}
		switch typ {
		case frameData:
			d.otlpBytes.Add(int64(n))
			if n > 0 {
				// The window of the connection and of the stream.
				var inc [4]byte
				binary.BigEndian.PutUint32(inc[:], uint32(n))
				writeFrame(w, frameWindowUpdate, 0, 0, inc[:])
				if flags&flagEndStream == 0 {
					writeFrame(w, frameWindowUpdate, 0, stream, inc[:])
				}
			}
			if flags&flagEndStream != 0 {
				answerGRPC(w, stream, d)
			}
		case frameHeaders:
			// A request without a body, or its trailers.
			if flags&flagEndStream != 0 {
				answerGRPC(w, stream, d)
			}
		case frameSettings:
			if flags&flagAck == 0 {
				writeFrame(w, frameSettings, flagAck, 0, nil)
			}
		case framePing:
			if flags&flagAck == 0 {
				writeFrame(w, framePing, flagAck, 0, payload[:n])
			}
		case frameGoAway:
			_ = w.Flush()
			return
		case frameRSTStream, frameWindowUpdate:
			// Nothing to do: the answers are smaller than any window.
		}
		if r.Buffered() == 0 {
			if w.Flush() != nil {
				return
			}
		}
	}
}

// answerGRPC answers one export: headers, an empty message, trailers.
func answerGRPC(w *bufio.Writer, stream uint32, d *drops) {
	d.otlpRequests.Add(1)
	writeFrame(w, frameHeaders, flagEndHeaders, stream, grpcHeaders)
	writeFrame(w, frameData, 0, stream, grpcEmpty)
	writeFrame(w, frameHeaders, flagEndHeaders|flagEndStream, stream, grpcTrailers)
}

// writeFrame buffers one HTTP/2 frame.
func writeFrame(w *bufio.Writer, typ, flags byte, stream uint32, payload []byte) {
	var head [9]byte
	head[0], head[1], head[2] = byte(len(payload)>>16), byte(len(payload)>>8), byte(len(payload))
	head[3], head[4] = typ, flags
	binary.BigEndian.PutUint32(head[5:], stream)
	_, _ = w.Write(head[:])
	_, _ = w.Write(payload)
}
