package rtproxy

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
)

// maxHead is the most a request's or an answer's head (its first line and
// headers), or a chunked body's trailers, may take: what net/http's server
// takes by default.
const maxHead = 1<<20 + 4096

// maxChunkLine is the most a chunk's size line may take, as in net/http.
const maxChunkLine = 4096

var (
	errHeadTooLarge = errors.New("head too large")
	errLineTooLong  = errors.New("chunk size line too long")
)

// head is what the relay reads of a message's head: how its body is
// framed, whether the connection stays open, and the headers the
// Observer is given. The head's bytes themselves are passed on as read.
type head struct {
	// method and target are a request's.
	method, target string
	// status is an answer's.
	status int
	// contentLength is -1 when the head gives none.
	contentLength int64
	chunked       bool
	// close says the connection ends after this message (Connection:
	// close, HTTP/1.0 without keep-alive, or a request framed both ways).
	close bool
	// expectContinue is a request's Expect: 100-continue.
	expectContinue bool
	// The Runtime API's headers the Observer reads (values as sent,
	// without surrounding blanks).
	requestID, traceID, deadline, errorType string
}

// readHead reads a head up to and including its blank line into buf
// (reused) and returns it. Empty lines before a head are skipped, as
// RFC 9112 (2.2) allows.
func readHead(br *bufio.Reader, buf []byte) ([]byte, error) {
	buf = buf[:0]
	start := 0 // of the line being read
	for {
		frag, err := br.ReadSlice('\n')
		if len(buf)+len(frag) > maxHead {
			return buf, errHeadTooLarge
		}
		buf = append(buf, frag...)
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if err != nil {
			return buf, err
		}
		if line := buf[start:]; len(line) == 1 || (len(line) == 2 && line[0] == '\r') {
			if start == 0 {
				buf = buf[:0]
				continue
			}
			return buf, nil
		}
		start = len(buf)
	}
}

// headBuffered says a whole head (up to its blank line, after the empty
// lines readHead skips) is buffered in br: reading it will not wait.
func headBuffered(br *bufio.Reader) bool {
	b, _ := br.Peek(br.Buffered())
	b = bytes.TrimLeft(b, "\r\n")
	return bytes.Contains(b, []byte("\n\r\n")) || bytes.Contains(b, []byte("\n\n"))
}

// readLine reads one line, up to and including its '\n', into buf
// (reused), at most limit bytes.
func readLine(br *bufio.Reader, buf []byte, limit int, tooLong error) ([]byte, error) {
	buf = buf[:0]
	for {
		frag, err := br.ReadSlice('\n')
		if len(buf)+len(frag) > limit {
			return buf, tooLong
		}
		buf = append(buf, frag...)
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		return buf, err
	}
}

// parseRequestHead reads a request's head (as readHead returns it), its
// strings made in a (when not nil).
func parseRequestHead(b []byte, a *strArena) (head, error) {
	line, rest := cutLine(b)
	method, rest1, ok1 := bytes.Cut(line, []byte{' '})
	target, version, ok2 := bytes.Cut(rest1, []byte{' '})
	if !ok1 || !ok2 || len(method) == 0 || !isToken(method) || len(target) == 0 || !validTarget(target) {
		return head{}, fmt.Errorf("malformed request line %q", clip(line))
	}
	h := head{method: intern(nil, method, "GET", "POST"), target: intern(a, target, pathNext), contentLength: -1}
	http10, err := parseVersion(version)
	if err != nil {
		return head{}, err
	}
	if err := h.parseFields(rest, http10, true, a); err != nil {
		return head{}, err
	}
	return h, nil
}

// parseResponseHead reads an answer's head (as readHead returns it), its
// strings made in a (when not nil).
func parseResponseHead(b []byte, a *strArena) (head, error) {
	line, rest := cutLine(b)
	version, status, _ := bytes.Cut(line, []byte{' '})
	http10, err := parseVersion(version)
	if err != nil {
		return head{}, err
	}
	code, _, _ := bytes.Cut(status, []byte{' '})
	if len(code) != 3 || code[0] < '1' || code[0] > '5' || !isDigits(code) {
		return head{}, fmt.Errorf("malformed status line %q", clip(line))
	}
	h := head{status: int(code[0]-'0')*100 + int(code[1]-'0')*10 + int(code[2]-'0'), contentLength: -1}
	if err := h.parseFields(rest, http10, false, a); err != nil {
		return head{}, err
	}
	return h, nil
}

func parseVersion(v []byte) (http10 bool, err error) {
	switch string(v) {
	case "HTTP/1.1":
		return false, nil
	case "HTTP/1.0":
		return true, nil
	}
	return false, fmt.Errorf("unsupported HTTP version %q", clip(v))
}

// parseFields reads the header fields of a head (after its first line).
func (h *head) parseFields(b []byte, http10, request bool, a *strArena) error {
	keepAlive, sawLength, sawTE := false, false, false
	for len(b) > 0 {
		var line []byte
		line, b = cutLine(b)
		if len(line) == 0 {
			break // the blank line that ends the head
		}
		if line[0] == ' ' || line[0] == '\t' {
			return fmt.Errorf("obsolete line folding in header %q", clip(line))
		}
		name, value, ok := bytes.Cut(line, []byte{':'})
		if !ok || len(name) == 0 || (request && !isToken(name)) || (!request && !isFieldName(name)) {
			return fmt.Errorf("malformed header line %q", clip(line))
		}
		value = bytes.Trim(value, " \t")
		if !validValue(value) {
			return fmt.Errorf("invalid value of header %q", clip(name))
		}
		switch {
		case equalFold(name, "Content-Length"):
			n, ok := parseLength(value)
			if !ok || (sawLength && n != h.contentLength) {
				return fmt.Errorf("invalid Content-Length %q", clip(value))
			}
			h.contentLength, sawLength = n, true
		case equalFold(name, "Transfer-Encoding") && !http10:
			// As net/http: chunked, once, is the only coding taken, and
			// none in HTTP/1.0.
			if sawTE || !equalFold(value, "chunked") {
				return fmt.Errorf("unsupported Transfer-Encoding %q", clip(value))
			}
			h.chunked, sawTE = true, true
		case equalFold(name, "Connection"):
			for tok := range bytes.SplitSeq(value, []byte{','}) {
				tok = bytes.Trim(tok, " \t")
				switch {
				case equalFold(tok, "close"):
					h.close = true
				case equalFold(tok, "keep-alive"):
					keepAlive = true
				}
			}
		case request && equalFold(name, "Expect"):
			h.expectContinue = equalFold(value, "100-continue")
		// The first value, as net/http's Header.Get gives.
		case equalFold(name, HeaderRequestID):
			first(a, &h.requestID, value)
		case equalFold(name, HeaderTraceID):
			first(a, &h.traceID, value)
		case equalFold(name, HeaderDeadline):
			first(a, &h.deadline, value)
		case equalFold(name, HeaderErrorType):
			first(a, &h.errorType, value)
		}
	}
	if http10 && !keepAlive {
		h.close = true
	}
	if h.chunked && sawLength {
		// Framed both ways: the coding wins, and the connection is not
		// kept (RFC 9112, 6.3).
		h.contentLength, h.close = -1, true
	}
	return nil
}

// intern is b as a string: one of common when it is one (no
// allocation), else one made in a (when not nil).
func intern(a *strArena, b []byte, common ...string) string {
	for _, c := range common {
		if string(b) == c {
			return c
		}
	}
	return a.string(b)
}

// first sets *s to v (made in a, when not nil) unless a value was set.
func first(a *strArena, s *string, v []byte) {
	if *s == "" {
		*s = a.string(v)
	}
}

// cutLine cuts b after its first '\n' and returns the line without its
// line end.
func cutLine(b []byte) (line, rest []byte) {
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		return b, nil
	}
	line, rest = b[:i], b[i+1:]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, rest
}

// parseChunkSize reads a chunk's size line (as readLine returns it).
func parseChunkSize(line []byte) (int64, error) {
	l, _ := cutLine(line)
	l, _, _ = bytes.Cut(l, []byte{';'}) // extensions are passed on, not read
	l = bytes.TrimRight(l, " \t")
	if len(l) == 0 || len(l) > 15 {
		return 0, fmt.Errorf("malformed chunk size %q", clip(line))
	}
	var n int64
	for _, c := range l {
		var d byte
		switch {
		case c >= '0' && c <= '9':
			d = c - '0'
		case c >= 'a' && c <= 'f':
			d = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			d = c - 'A' + 10
		default:
			return 0, fmt.Errorf("malformed chunk size %q", clip(line))
		}
		n = n<<4 | int64(d)
	}
	return n, nil
}

// parseLength reads a Content-Length value.
func parseLength(v []byte) (int64, bool) {
	if len(v) == 0 || len(v) > 18 || !isDigits(v) {
		return 0, false
	}
	var n int64
	for _, c := range v {
		n = n*10 + int64(c-'0')
	}
	return n, true
}

func isDigits(b []byte) bool {
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// isToken says b is an RFC 9110 token (a method or a field name).
func isToken(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 || !tokenChar[c] {
			return false
		}
	}
	return true
}

// isFieldName says b is an answer's header field name as net/http's
// client takes it: token characters and spaces (a request's must be a
// token, as its server requires).
func isFieldName(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 || (!tokenChar[c] && c != ' ') {
			return false
		}
	}
	return true
}

var tokenChar = func() (t [128]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c], t[c-'a'+'A'] = true, true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()

// validTarget says b is a request target without blanks or controls.
func validTarget(b []byte) bool {
	for _, c := range b {
		if c <= ' ' || c == 0x7f {
			return false
		}
	}
	return true
}

// validValue says b is a field value net/http would take: no controls
// but tabs.
func validValue(b []byte) bool {
	for _, c := range b {
		if (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

// equalFold compares b with the ASCII string s, ignoring case.
func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range len(b) {
		x, y := b[i], s[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// clip shortens what an error quotes of the input.
func clip(b []byte) string {
	if len(b) > 64 {
		return string(b[:64]) + "..."
	}
	return string(b)
}
