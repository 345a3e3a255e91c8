package rtproxy

import (
	"bufio"
	"bytes"
	"errors"
	"net/http"
	"strings"
	"testing"
)

// headSeeds are heads as runtimes and the platform send them, and
// malformed ones.
var headSeeds = []string{
	"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: 127.0.0.1:9001\r\nUser-Agent: aws-lambda-go/go1.26\r\n\r\n",
	"POST /2018-06-01/runtime/invocation/abc/response HTTP/1.1\r\nHost: x\r\nContent-Length: 12\r\nContent-Type: application/json\r\n\r\n{\"ok\":true}\n",
	"POST /2018-06-01/runtime/invocation/abc/response HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTrailer: Lambda-Runtime-Function-Error-Type\r\nLambda-Runtime-Function-Response-Mode: streaming\r\n\r\n",
	"POST /2018-06-01/runtime/invocation/abc/error HTTP/1.1\r\nHost: x\r\nlambda-runtime-function-error-type: Runtime.Boom\r\nContent-Length: 2\r\n\r\n",
	"POST /x HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\nContent-Length: 3\r\n\r\n",
	"POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n",
	"POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
	"POST /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
	"PUT /x?y=%20 HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n",
	"GET /x HTTP/1.1\r\nHost: x\r\nX-Folded: a\r\n b\r\n\r\n",
	"GET /x HTTP/1.1\nHost: x\nConnection: close\n\n",
	"HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: 8476a536\r\nLambda-Runtime-Deadline-Ms: 1542409706888\r\nLambda-Runtime-Trace-Id: Root=1-5bef4de7\r\nContent-Length: 2\r\n\r\n",
	"HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nDate: Sun, 06 Dec 2026 13:00:00 GMT\r\nContent-Length: 16\r\n\r\n",
	"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
	"HTTP/1.1 100 Continue\r\n\r\n",
	"HTTP/1.0 200 OK\r\n\r\n",
	"HTTP/1.1 413 Request Entity Too Large\r\nConnection: close\r\nContent-Length: 5\r\n\r\n",
	// What net/http takes and the first parser did not.
	"GET * HTTP/1.0\nX Spaced Name:v\n\n",
	"HTTP/1.0 100 \nX :\n\n",
	"POST * HTTP/1.0\nTransfer-Encoding: gzip\n\n",
}

// FuzzHeads reads heads as the relay does and checks them against
// net/http: whatever both take, they frame the same way (the body's
// length, chunked or not, whether the connection ends) and read the same
// Runtime API headers; a head net/http takes is taken, unless it is of a
// kind refused on purpose. The seeds run with every go test; go test
// -fuzz FuzzHeads explores further.
func FuzzHeads(f *testing.F) {
	for _, s := range headSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := readHead(bufio.NewReaderSize(bytes.NewReader(data), 16), nil)
		if err != nil {
			if !errors.Is(err, errHeadTooLarge) && len(data) > maxHead+8 {
				t.Fatalf("a head over the limit was not refused: %v", err)
			}
			return
		}
		if !bytes.HasSuffix(b, []byte("\n")) || len(b) > maxHead {
			t.Fatalf("head of %d bytes does not end in a line end", len(b))
		}
		if bytes.HasPrefix(b, []byte("HTTP/")) {
			checkResponse(t, b)
		} else {
			checkRequest(t, b)
		}
	})
}

// refusedOnPurpose says the head is of a kind net/http takes and the
// relay refuses: obsolete line folding (RFC 9112 5.2 lets a server refuse
// it), HTTP versions other than 1.0 and 1.1.
func refusedOnPurpose(b []byte, proto string) bool {
	return bytes.Contains(b, []byte("\n ")) || bytes.Contains(b, []byte("\n\t")) ||
		(proto != "HTTP/1.0" && proto != "HTTP/1.1")
}

func checkRequest(t *testing.T, b []byte) {
	var a strArena
	h, err := parseRequestHead(b, &a)
	req, herr := http.ReadRequest(bufio.NewReader(bytes.NewReader(b)))
	switch {
	case herr != nil:
		return // refused by net/http: whatever the relay does, the platform refuses it
	case !validForServer(req.Header):
		return // net/http's server refuses it after reading it
	case err != nil:
		if !refusedOnPurpose(b, req.Proto) && req.ProtoMajor == 1 {
			t.Fatalf("net/http takes the request the relay refuses (%v):\n%q", err, b)
		}
		return
	}
	chunked := len(req.TransferEncoding) > 0
	if h.chunked != chunked {
		t.Fatalf("chunked %v, net/http %v:\n%q", h.chunked, chunked, b)
	}
	if !chunked && max(h.contentLength, 0) != req.ContentLength {
		t.Fatalf("length %d, net/http %d:\n%q", h.contentLength, req.ContentLength, b)
	}
	if req.Close && !h.close {
		t.Fatalf("net/http ends the connection after the request, the relay does not:\n%q", b)
	}
	if h.method != req.Method || h.target != req.RequestURI {
		t.Fatalf("request %q %q, net/http %q %q", h.method, h.target, req.Method, req.RequestURI)
	}
	checkFields(t, h, req.Header, b)
}

func checkResponse(t *testing.T, b []byte) {
	var a strArena
	h, err := parseResponseHead(b, &a)
	resp, herr := http.ReadResponse(bufio.NewReader(bytes.NewReader(b)), nil)
	switch {
	case herr != nil:
		return
	case err != nil:
		if !refusedOnPurpose(b, resp.Proto) && resp.ProtoMajor == 1 && !hasControl(resp.Header) &&
			resp.StatusCode >= 100 && resp.StatusCode < 600 {
			t.Fatalf("net/http takes the answer the relay refuses (%v):\n%q", err, b)
		}
		return
	}
	if h.status != resp.StatusCode {
		t.Fatalf("status %d, net/http %d", h.status, resp.StatusCode)
	}
	noBody := h.status < 200 || h.status == 204 || h.status == 304
	if chunked := len(resp.TransferEncoding) > 0; !noBody && h.chunked != chunked {
		t.Fatalf("chunked %v, net/http %v:\n%q", h.chunked, chunked, b)
	}
	if !noBody && !h.chunked && h.contentLength != resp.ContentLength {
		t.Fatalf("length %d, net/http %d:\n%q", h.contentLength, resp.ContentLength, b)
	}
	checkFields(t, h, resp.Header, b)
}

func checkFields(t *testing.T, h head, hdr http.Header, b []byte) {
	t.Helper()
	for _, f := range []struct{ got, name string }{
		{h.requestID, HeaderRequestID}, {h.traceID, HeaderTraceID}, {h.deadline, HeaderDeadline}, {h.errorType, HeaderErrorType},
	} {
		if want := hdr.Get(f.name); f.got != want && !(f.got == "" && want == "") {
			t.Fatalf("%s %q, net/http %q:\n%q", f.name, f.got, want, b)
		}
	}
}

// validForServer says net/http's server takes a request with these
// headers: names are tokens, values hold no control but tabs.
func validForServer(h http.Header) bool {
	for k := range h {
		if !isToken([]byte(k)) {
			return false
		}
	}
	return !hasControl(h)
}

// hasControl says a value net/http took holds a control byte (it takes
// some the relay refuses as RFC 9110 5.5 says).
func hasControl(h http.Header) bool {
	for _, vv := range h {
		for _, v := range vv {
			if strings.ContainsFunc(v, func(r rune) bool { return (r < ' ' && r != '\t') || r == 0x7f }) {
				return true
			}
		}
	}
	return false
}

// TestChunkSize reads chunk size lines as net/http does.
func TestChunkSize(t *testing.T) {
	for _, tt := range []struct {
		line string
		n    int64
		ok   bool
	}{
		{"0\r\n", 0, true}, {"1a\r\n", 26, true}, {"FF;name=value\r\n", 255, true}, {"10 \r\n", 16, true},
		{"\r\n", 0, false}, {"x\r\n", 0, false}, {"-1\r\n", 0, false}, {"1000000000000000\r\n", 0, false},
	} {
		n, err := parseChunkSize([]byte(tt.line))
		if (err == nil) != tt.ok || (tt.ok && n != tt.n) {
			t.Errorf("%q: %d, %v; want %d, ok %v", tt.line, n, err, tt.n, tt.ok)
		}
	}
}

// TestHeadBuffered says whether reading a head would wait (only then is
// it bounded by headTimeout): whenever it says not, readHead reads one
// whole from what is buffered.
func TestHeadBuffered(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want bool
	}{
		{"GET / HTTP/1.1\r\nHost: x\r\n\r\n", true},
		{"GET / HTTP/1.1\nHost: x\n\n", true},
		{"GET / HTTP/1.1\r\nHost: x\r\n\r\nbody", true},
		{"\r\n\r\nGET / HTTP/1.1\r\n\r\n", true},
		{"GET / HTTP/1.1\r\nHost: x\r\n", false},
		{"GET / HTTP/1.1\r\nHost: x\r\n\r", false},
		{"\r\n\r\nGET / HTTP/1.1\r\nHo", false},
		{"\r\n\r\n", false},
		{"\n\r\n", false},
	} {
		br := bufio.NewReaderSize(strings.NewReader(tt.in), 64)
		if _, err := br.Peek(len(tt.in)); err != nil {
			t.Fatal(err)
		}
		if got := headBuffered(br); got != tt.want {
			t.Errorf("%q: %v, want %v", tt.in, got, tt.want)
		}
		if tt.want {
			if _, err := readHead(br, nil); err != nil {
				t.Errorf("%q: readHead: %v", tt.in, err)
			}
		}
	}
}
