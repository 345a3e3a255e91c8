package launch

import (
	"bufio"
	"encoding/binary"
	"io"
	"net"
	"strings"
	"time"

	"golang.org/x/net/http2/hpack"
)

// The launcher answers the function's OTLP/gRPC exports early too, as it
// does its OTLP/HTTP ones: it speaks as much HTTP/2 as a gRPC client needs
// (settings, pings and flow control acknowledged, header blocks decoded
// with HPACK to learn the method and the message's encoding), answers each
// export with an empty response and status OK, and passes the request's
// message on to the agent as the OTLP/HTTP export it is equivalent to
// (same protobuf message; a gzip-compressed one with Content-Encoding
// gzip). Once it has answered a connection's first export it sends
// GOAWAY, so that the client's next export opens a new connection, which
// the agent serves once it does, and the client closes this one: no
// connection stays with the launcher (at most 5 seconds).

// grpcPaths maps the OTLP/gRPC methods to the OTLP/HTTP paths of the same
// messages.
var grpcPaths = map[string]string{
	"/opentelemetry.proto.collector.trace.v1.TraceService/Export":     "/v1/traces",
	"/opentelemetry.proto.collector.logs.v1.LogsService/Export":       "/v1/logs",
	"/opentelemetry.proto.collector.metrics.v1.MetricsService/Export": "/v1/metrics",
}

// HTTP/2 frame types and flags the early gRPC server reads beyond those of
// drainGRPC (RFC 9113).
const (
	frameContinuation = 0x9
	flagPadded        = 0x8
	flagPriority      = 0x20
)

// goAwayGrace is how long a connection stays open after GOAWAY for the
// client to close it.
const goAwayGrace = 100 * time.Millisecond

// gRPC status codes the early server answers with (besides OK).
const (
	grpcUnimplemented = 12
)

// earlyStream is one export being read.
type earlyStream struct {
	path, encoding string
	body           []byte
	tooBig         bool
}

// serveGRPC answers OTLP/gRPC exports on c (gRPC over HTTP/2 without TLS)
// and passes them on.
func (e *early) serveGRPC(c net.Conn) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	r := bufio.NewReader(c)
	w := bufio.NewWriter(c)
	preface := make([]byte, len(h2Preface))
	if _, err := io.ReadFull(r, preface); err != nil || string(preface) != h2Preface {
		return
	}
	writeFrame(w, frameSettings, 0, 0, nil)
	if w.Flush() != nil {
		return
	}
	dec := hpack.NewDecoder(4096, nil)
	streams := map[uint32]*earlyStream{}
	var (
		head      [9]byte
		payload   = make([]byte, maxFrame)
		block     []byte // a header block being read (CONTINUATION)
		blockID   uint32
		blockEnd  bool // the block's HEADERS frame ended the stream
		lastID    uint32
		goingAway bool // GOAWAY sent: streams above lastID are not served
		closing   bool // the connection ends at goAwayGrace
	)
	for {
		if _, err := io.ReadFull(r, head[:]); err != nil {
			return
		}
		n := int(head[0])<<16 | int(head[1])<<8 | int(head[2])
		typ, flags := head[3], head[4]
		id := binary.BigEndian.Uint32(head[5:]) & 0x7fffffff
		if n > maxFrame {
			return
		}
		if _, err := io.ReadFull(r, payload[:n]); err != nil {
			return
		}
		p := payload[:n]
		if (typ == frameData || typ == frameHeaders) && flags&flagPadded != 0 {
			if len(p) < 1 || int(p[0]) > len(p)-1 {
				return
			}
			p = p[1 : len(p)-int(p[0])]
		}
		switch typ {
		case frameHeaders, frameContinuation:
			if typ == frameHeaders {
				if flags&flagPriority != 0 {
					if len(p) < 5 {
						return
					}
					p = p[5:]
				}
				block, blockID, blockEnd = append(block[:0], p...), id, flags&flagEndStream != 0
			} else {
				if id != blockID {
					return
				}
				block = append(block, p...)
			}
			if flags&flagEndHeaders == 0 {
				if len(block) > 64<<10 {
					return
				}
				continue
			}
			fields, err := dec.DecodeFull(block)
			if err != nil {
				// The table is lost with it: the connection cannot go on.
				return
			}
			s := streams[blockID]
			if s == nil {
				// A new stream (a request's headers), unless it is one past
				// GOAWAY: refused unprocessed, the client sends it again on
				// a new connection.
				if goingAway && blockID > lastID {
					writeFrame(w, frameRSTStream, 0, blockID, []byte{0, 0, 0, 7})
					if w.Flush() != nil {
						return
					}
					continue
				}
				s = &earlyStream{}
				for _, f := range fields {
					switch f.Name {
					case ":path":
						s.path = f.Value
					case "grpc-encoding":
						s.encoding = f.Value
					}
				}
				streams[blockID] = s
				lastID = max(lastID, blockID)
			}
			if blockEnd {
				e.answerGRPC(w, blockID, s)
				delete(streams, blockID)
			}
		case frameData:
			if n > 0 {
				// Give back the window of the connection and the stream.
				var inc [4]byte
				binary.BigEndian.PutUint32(inc[:], uint32(n))
				writeFrame(w, frameWindowUpdate, 0, 0, inc[:])
				if flags&flagEndStream == 0 {
					writeFrame(w, frameWindowUpdate, 0, id, inc[:])
				}
			}
			s := streams[id]
			if s == nil {
				break
			}
			if !s.tooBig {
				if len(s.body)+len(p) > earlyMaxBody+5 || e.held.Load()+int64(len(s.body)+len(p)) > earlyMaxHeld {
					s.tooBig, s.body = true, nil
				} else {
					s.body = append(s.body, p...)
				}
			}
			if flags&flagEndStream != 0 {
				e.answerGRPC(w, id, s)
				delete(streams, id)
			}
		case frameSettings:
			if flags&flagAck == 0 {
				writeFrame(w, frameSettings, flagAck, 0, nil)
			}
		case framePing:
			if flags&flagAck == 0 {
				writeFrame(w, framePing, flagAck, 0, p)
			}
		case frameRSTStream:
			delete(streams, id)
		case frameGoAway:
			_ = w.Flush()
			return
		}
		if lastID > 0 && !goingAway && len(streams) == 0 {
			// One export answered: the next one goes on a new connection.
			var ga [8]byte
			binary.BigEndian.PutUint32(ga[:4], lastID)
			writeFrame(w, frameGoAway, 0, 0, ga[:])
			goingAway = true
		}
		if r.Buffered() == 0 {
			if w.Flush() != nil {
				return
			}
			if goingAway && len(streams) == 0 && !closing {
				// The client closes the connection after GOAWAY once its
				// streams are done; one that does not (an idle gRPC
				// channel may keep it) is closed shortly: closing at once
				// could reach the client before the GOAWAY does, which it
				// would take for a failure.
				closing = true
				_ = c.SetReadDeadline(time.Now().Add(goAwayGrace))
			}
		}
	}
}

// answerGRPC answers the export on stream id and passes it on. An export
// too big to hold is refused unprocessed (the client sends it again, on
// the new connection GOAWAY asks for), as the HTTP side leaves such
// exports to the agent.
func (e *early) answerGRPC(w *bufio.Writer, id uint32, s *earlyStream) {
	path, known := grpcPaths[s.path]
	msg := s.body
	var compressed bool
	if !s.tooBig && len(msg) >= 5 {
		compressed = msg[0] == 1
		size := binary.BigEndian.Uint32(msg[1:5])
		if int(size) == len(msg)-5 {
			msg = msg[5:]
		} else {
			msg = nil // not one whole message: malformed, the agent judges
		}
	}
	encoding := ""
	if compressed {
		encoding = strings.ToLower(s.encoding)
	}
	switch {
	case s.tooBig:
		// REFUSED_STREAM: not processed, which a gRPC client sends again.
		writeFrame(w, frameRSTStream, 0, id, []byte{0, 0, 0, 7})
		return
	case !known || (encoding != "" && encoding != "gzip"):
		writeFrame(w, frameHeaders, flagEndHeaders, id, grpcHeaders)
		writeFrame(w, frameHeaders, flagEndHeaders|flagEndStream, id, grpcStatus(grpcUnimplemented))
		return
	}
	writeFrame(w, frameHeaders, flagEndHeaders, id, grpcHeaders)
	writeFrame(w, frameData, 0, id, grpcEmpty)
	writeFrame(w, frameHeaders, flagEndHeaders|flagEndStream, id, grpcTrailers)
	// Answered before it is passed on, as over HTTP, and passed on beside
	// the connection: the pipe holds 64 KiB until the agent reads it, and
	// the connection must go on (GOAWAY, the client's close) meanwhile.
	_ = w.Flush()
	e.held.Add(int64(len(msg)))
	e.wg.Go(func() {
		defer e.held.Add(-int64(len(msg)))
		if err := e.pass(path, "application/x-protobuf", encoding, msg); err != nil {
			e.lost.Add(1)
			e.lostBytes.Add(int64(len(msg)))
			return
		}
		e.passed.Add(1)
	})
}

// grpcStatus is a trailer block with grpc-status code (a literal with a
// literal name, not indexed, as grpcTrailers).
func grpcStatus(code int) []byte {
	v := []byte{byte('0' + code%10)}
	if code >= 10 {
		v = []byte{byte('0' + code/10), byte('0' + code%10)}
	}
	return append([]byte("\x00\x0bgrpc-status"), append([]byte{byte(len(v))}, v...)...)
}
