package launch

import (
	"bufio"
	"errors"
	"io"
	"net/netip"
	"strconv"
	"strings"
)

// maxBody bounds a response body read from the Extensions API; maxHeaders
// the header lines of one response.
const (
	maxBody    = 1 << 20
	maxHeaders = 100
)

// header is one response header line.
type header struct{ name, value string }

// response is an HTTP/1.1 answer of the Extensions or Telemetry API.
type response struct {
	proto  string
	status int
	header []header
	body   []byte
}

// get returns the value of the first header called name (any case).
func (r response) get(name string) string {
	for _, h := range r.header {
		if strings.EqualFold(h.name, name) {
			return h.value
		}
	}
	return ""
}

// conn is one keep-alive HTTP/1.1 connection to the Lambda APIs. The
// launcher writes its few requests and reads their answers itself rather
// than through net/http (about 2 ms of initialisation, with the crypto/tls
// it links) or net/textproto: what matters before the first /event/next
// is how little code runs and how few new pages of memory it writes,
// which is where a process's first milliseconds go.
type conn struct {
	c fdConn
	r *bufio.Reader
	// w holds requests queued for one write.
	w    []byte
	addr netip.AddrPort
	host string
	// closing is set when the server said it closes the connection after
	// its answer: the next request goes on a new connection.
	closing bool
}

// dialAPI connects to the API at host (host:port).
func dialAPI(n *names, host string) (*conn, error) {
	addr, err := n.addrPortOf(host)
	if err != nil {
		return nil, err
	}
	fd, err := dialFD(addr)
	if err != nil {
		return nil, err
	}
	c := fdConn(fd)
	return &conn{c: c, r: bufio.NewReader(c), w: make([]byte, 0, 1024), addr: addr, host: host}, nil
}

// read reads one response and notes whether the server closes the
// connection after it.
func (c *conn) read() (response, error) {
	resp, err := readResponse(c.r)
	if err == nil && resp.closes() {
		c.closing = true
	}
	return resp, err
}

// closes reports whether the server closes the connection after this
// answer: it says so, or speaks HTTP/1.0 (whose keep-alive is not worth
// trusting for a few requests).
func (r response) closes() bool {
	if r.proto == "HTTP/1.0" {
		return true
	}
	for _, h := range r.header {
		if !strings.EqualFold(h.name, "Connection") {
			continue
		}
		for token := range strings.SplitSeq(h.value, ",") {
			if strings.EqualFold(strings.TrimSpace(token), "close") {
				return true
			}
		}
	}
	return false
}

// send writes one request without reading the answer; headers are name,
// value pairs.
func (c *conn) send(method, path string, body []byte, headers ...string) error {
	if err := c.queue(method, path, body, headers...); err != nil {
		return err
	}
	return c.flush()
}

// queue adds a request to the next write; headers are name, value pairs.
func (c *conn) queue(method, path string, body []byte, headers ...string) error {
	start := len(c.w)
	c.w = append(c.w, method+" "+path+" HTTP/1.1\r\nHost: "+c.host+"\r\n"...)
	for i := 0; i+1 < len(headers); i += 2 {
		if strings.ContainsAny(headers[i]+headers[i+1], "\r\n") {
			c.w = c.w[:start]
			return errors.New(method + " " + path + ": header " + headers[i] + " holds a line break")
		}
		c.w = append(c.w, headers[i]+": "+headers[i+1]+"\r\n"...)
	}
	if body != nil {
		c.w = append(c.w, "Content-Length: "...)
		c.w = strconv.AppendInt(c.w, int64(len(body)), 10)
		c.w = append(c.w, "\r\n"...)
	}
	c.w = append(c.w, "\r\n"...)
	c.w = append(c.w, body...)
	return nil
}

// flush writes the queued requests, on a new connection when the server
// closed the last one.
func (c *conn) flush() error {
	defer func() { c.w = c.w[:0] }()
	if c.closing {
		fd, err := dialFD(c.addr)
		if err != nil {
			return errors.New("reconnect: " + err.Error())
		}
		_ = c.c.Close()
		c.c = fdConn(fd)
		c.r.Reset(c.c)
		c.closing = false
	}
	if _, err := c.c.Write(c.w); err != nil {
		return errors.New("write request: " + err.Error())
	}
	return nil
}

// readLine reads one CRLF- or LF-terminated line, without its end. The
// slice is valid until the next read.
func readLine(r *bufio.Reader) ([]byte, error) {
	line, err := r.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		return nil, errors.New("line longer than 4096 bytes")
	}
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	line = line[:len(line)-1]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, nil
}

// readResponse reads a status line, the headers and a body delimited by
// Content-Length or chunked transfer encoding.
func readResponse(r *bufio.Reader) (response, error) {
	line, err := readLine(r)
	if err != nil {
		return response{}, errors.New("read status line: " + err.Error())
	}
	proto, rest, _ := strings.Cut(string(line), " ")
	code, _, _ := strings.Cut(rest, " ")
	status, err := strconv.Atoi(code)
	if !strings.HasPrefix(proto, "HTTP/1.") || err != nil || status < 100 || status > 999 {
		return response{}, errors.New("malformed status line " + strconv.Quote(string(line)))
	}
	resp := response{proto: proto, status: status}
	if resp.header, err = readHeaders(r); err != nil {
		return response{}, errors.New("read headers: " + err.Error())
	}
	switch {
	case status == 204 || status == 304 || status < 200:
		// No content, whatever the headers say (RFC 9112, section 6.3).
	case strings.EqualFold(resp.get("Transfer-Encoding"), "chunked"):
		resp.body, err = readChunked(r, maxBody)
	case resp.get("Content-Length") != "":
		n, perr := strconv.Atoi(resp.get("Content-Length"))
		if perr != nil || n < 0 || n > maxBody {
			return response{}, errors.New("bad Content-Length " + strconv.Quote(resp.get("Content-Length")))
		}
		resp.body = make([]byte, n)
		_, err = io.ReadFull(r, resp.body)
	default:
		return response{}, errors.New("response has neither Content-Length nor chunked encoding")
	}
	if err != nil {
		return response{}, errors.New("read body: " + err.Error())
	}
	return resp, nil
}

// readHeaders reads header lines up to the empty line.
func readHeaders(r *bufio.Reader) ([]header, error) {
	hs := make([]header, 0, 16)
	for {
		line, err := readLine(r)
		if err != nil {
			return nil, err
		}
		if len(line) == 0 {
			return hs, nil
		}
		if len(hs) == maxHeaders {
			return nil, errors.New("more than " + strconv.Itoa(maxHeaders) + " header lines")
		}
		if line[0] == ' ' || line[0] == '\t' {
			return nil, errors.New("obsolete line folding in " + strconv.Quote(string(line)))
		}
		name, value, ok := strings.Cut(string(line), ":")
		if !ok || name == "" || strings.ContainsAny(name, " \t") {
			return nil, errors.New("malformed header line " + strconv.Quote(string(line)))
		}
		hs = append(hs, header{name, strings.Trim(value, " \t")})
	}
}

// readChunked reads a chunked body of at most limit bytes and its trailer.
func readChunked(r *bufio.Reader, limit int) ([]byte, error) {
	var body []byte
	for {
		line, err := readLine(r)
		if err != nil {
			return nil, err
		}
		size, _, _ := strings.Cut(string(line), ";")
		n, err := strconv.ParseInt(strings.TrimSpace(size), 16, 32)
		if err != nil || n < 0 {
			return nil, errors.New("malformed chunk size " + strconv.Quote(string(line)))
		}
		if n == 0 {
			_, err := readHeaders(r) // trailer, up to the empty line
			return body, err
		}
		if len(body)+int(n) > limit {
			return nil, errors.New("body larger than " + strconv.Itoa(limit) + " bytes")
		}
		start := len(body)
		body = append(body, make([]byte, n)...)
		if _, err := io.ReadFull(r, body[start:]); err != nil {
			return nil, err
		}
		if crlf, err := readLine(r); err != nil || len(crlf) != 0 {
			return nil, errors.New("chunk not followed by CRLF")
		}
	}
}

// statusError describes a non-2xx answer.
func statusError(what string, resp response) error {
	return errors.New(what + ": status " + strconv.Itoa(resp.status) + ": " + strings.TrimSpace(string(resp.body)))
}
