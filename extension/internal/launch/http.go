package launch

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"net/textproto"
	"strconv"
	"strings"
)

// maxBody bounds a response body read from the Extensions API.
const maxBody = 1 << 20

// response is an HTTP/1.1 answer of the Extensions or Telemetry API.
type response struct {
	proto  string
	status int
	header textproto.MIMEHeader
	body   []byte
}

// conn is one keep-alive HTTP/1.1 connection to the Lambda APIs. The
// launcher speaks HTTP over net/textproto instead of net/http: net/http
// and the crypto/tls it links take about 2 ms to initialise, a fifth of
// the time the launcher has before its first /event/next.
type conn struct {
	c    fdConn
	r    *bufio.Reader
	addr netip.AddrPort
	host string
	// closing is set when the server said it closes the connection after
	// its answer: the next request goes on a new connection.
	closing bool
}

// dialAPI connects to the API at host (host:port).
func dialAPI(hosts hostsFile, host string) (*conn, error) {
	addr, err := hosts.addrPortOf(host)
	if err != nil {
		return nil, err
	}
	fd, err := dialFD(addr)
	if err != nil {
		return nil, err
	}
	c := fdConn(fd)
	return &conn{c: c, r: bufio.NewReader(c), addr: addr, host: host}, nil
}

// do sends one request and reads its response.
func (c *conn) do(method, path string, header map[string]string, body []byte) (response, error) {
	if err := c.send(method, path, header, body); err != nil {
		return response{}, err
	}
	return c.read()
}

// read reads one response and notes whether the server closes the
// connection after it.
func (c *conn) read() (response, error) {
	resp, err := readResponse(c.r)
	if err == nil && (strings.EqualFold(resp.header.Get("Connection"), "close") || resp.proto == "HTTP/1.0") {
		c.closing = true
	}
	return resp, err
}

// send writes one request without reading the answer, on a new
// connection when the server closed the last one.
func (c *conn) send(method, path string, header map[string]string, body []byte) error {
	if c.closing {
		fd, err := dialFD(c.addr)
		if err != nil {
			return fmt.Errorf("%s %s: reconnect: %w", method, path, err)
		}
		_ = c.c.Close()
		c.c = fdConn(fd)
		c.r, c.closing = bufio.NewReader(c.c), false
	}
	var b strings.Builder
	b.WriteString(method + " " + path + " HTTP/1.1\r\nHost: " + c.host + "\r\n")
	for k, v := range header {
		if strings.ContainsAny(k+v, "\r\n") {
			return fmt.Errorf("%s %s: header %s holds a line break", method, path, k)
		}
		b.WriteString(k + ": " + v + "\r\n")
	}
	if body != nil {
		b.WriteString("Content-Length: " + strconv.Itoa(len(body)) + "\r\n")
	}
	b.WriteString("\r\n")
	b.Write(body)
	if _, err := io.WriteString(c.c, b.String()); err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	return nil
}

// readResponse reads a status line, the headers and a body delimited by
// Content-Length or chunked transfer encoding.
func readResponse(r *bufio.Reader) (response, error) {
	tp := textproto.NewReader(r)
	line, err := tp.ReadLine()
	if err != nil {
		return response{}, fmt.Errorf("read status line: %w", err)
	}
	proto, rest, _ := strings.Cut(line, " ")
	code, _, _ := strings.Cut(rest, " ")
	status, err := strconv.Atoi(code)
	if !strings.HasPrefix(proto, "HTTP/1.") || err != nil || status < 100 || status > 999 {
		return response{}, fmt.Errorf("malformed status line %q", line)
	}
	h, err := tp.ReadMIMEHeader()
	if err != nil {
		return response{}, fmt.Errorf("read headers: %w", err)
	}
	resp := response{proto: proto, status: status, header: h}
	switch {
	case strings.EqualFold(h.Get("Transfer-Encoding"), "chunked"):
		resp.body, err = readChunked(r)
	case h.Get("Content-Length") != "":
		n, perr := strconv.Atoi(h.Get("Content-Length"))
		if perr != nil || n < 0 || n > maxBody {
			return response{}, fmt.Errorf("bad Content-Length %q", h.Get("Content-Length"))
		}
		resp.body = make([]byte, n)
		_, err = io.ReadFull(r, resp.body)
	case status == 204 || status == 304 || status < 200:
	default:
		return response{}, errors.New("response has neither Content-Length nor chunked encoding")
	}
	if err != nil {
		return response{}, fmt.Errorf("read body: %w", err)
	}
	return resp, nil
}

// readChunked reads a chunked body and its trailer.
func readChunked(r *bufio.Reader) ([]byte, error) {
	tp := textproto.NewReader(r)
	var body []byte
	for {
		line, err := tp.ReadLine()
		if err != nil {
			return nil, err
		}
		size, _, _ := strings.Cut(line, ";")
		n, err := strconv.ParseInt(strings.TrimSpace(size), 16, 32)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("malformed chunk size %q", line)
		}
		if n == 0 {
			_, err := tp.ReadMIMEHeader() // trailer, up to the empty line
			return body, err
		}
		if len(body)+int(n) > maxBody {
			return nil, fmt.Errorf("body larger than %d bytes", maxBody)
		}
		start := len(body)
		body = append(body, make([]byte, n)...)
		if _, err := io.ReadFull(r, body[start:]); err != nil {
			return nil, err
		}
		if crlf, err := tp.ReadLine(); err != nil || crlf != "" {
			return nil, errors.New("chunk not followed by CRLF")
		}
	}
}

// statusError describes a non-2xx answer.
func statusError(what string, resp response) error {
	return fmt.Errorf("%s: status %d: %s", what, resp.status, strings.TrimSpace(string(resp.body)))
}
