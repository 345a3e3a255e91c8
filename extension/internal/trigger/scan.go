package trigger

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math/bits"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
	"unsafe"
)

// The scanner reads an event in one pass over its bytes and keeps only the
// values Detect needs: no map, no value of a field it does not know, and a
// string is copied only when it is kept. It takes what encoding/json would
// take into the narrow structs that Detect once decoded (the differential
// fuzz test holds it to that): the whole event must be valid JSON, a known
// field of the wrong type makes the event unreadable, keys match a field
// exactly or else without regard to case as encoding/json folds them, and
// strings with escapes or invalid UTF-8 are decoded by encoding/json itself.
// Where a key is repeated in one object, the last value is kept.

// maxDepth is encoding/json's nesting limit.
const maxDepth = 10000

// event is what Detect reads of an event.
type event struct {
	version, resource, path, httpMethod, routeKey, rawPath string

	headers headers

	hasRC bool
	rc    httpContext

	records []record

	detailType, source, time string
	resources                int
	resource0                string
	// detail is the trace context an EventBridge event's detail carries.
	detail eventDetail

	hasLogs  bool
	logsData string

	hasExec bool
	execID  string

	hasSM        bool
	smID, smName string

	durableArn string
	hasState   bool
	ops        []durableOp
	nextMarker string
}

// eventDetail is what Detect reads of an EventBridge event's detail: the
// W3C trace context a producer put there, as keys of the detail itself
// (traceparent, tracestate, baggage) or under _datadog, where Datadog's
// tracers put theirs (EventBridge has no attributes beside the event, and
// the X-Ray header of PutEvents is not delivered with it).
type eventDetail struct {
	traceparent, tracestate, baggage string
	ddTraceparent, ddTracestate      string
}

// durableOp is an operation of a durable execution's state.
type durableOp struct {
	typ        string
	start, end time.Time
}

// The headers Detect reads, by index.
const (
	hTraceparent = iota
	hTracestate
	hBaggage
	hXRay
	nHeaders
)

var headerNames = [nHeaders]string{"traceparent", "tracestate", "baggage", "x-amzn-trace-id"}

// headers are the trace headers of an HTTP event, from "headers" and from
// "multiValueHeaders" (the first value).
type headers struct {
	single, multi     [nHeaders]string
	hasSingle, hasMul [nHeaders]bool
	// capture are the captured headers' values, by the index of their
	// name in the scanner's capture list.
	capture []captured
}

type captured struct {
	single, multi     string
	hasSingle, hasMul bool
}

// get looks a header up, "headers" first.
func (h *headers) get(i int) string {
	if h.hasSingle[i] {
		return h.single[i]
	}
	return h.multi[i]
}

type httpContext struct {
	requestTimeEpoch, timeEpoch                                                           int64
	apiID, domainName, stage, resourcePath, routeKey, eventType, connectionID, httpMethod string

	hasELB         bool
	targetGroupArn string

	hasHTTP          bool
	method, httpPath string
}

// msgAttrs are the trace attributes of a message: StringValue for SQS,
// Value for SNS; and its _datadog attribute.
type msgAttrs struct {
	stringValue, value [nHeaders]string
	dd                 ddAttr
}

// ddAttr is a message's _datadog attribute, where Datadog's tracers put
// their trace context: a JSON object as text (SQS's stringValue, SNS's
// Value) or base64 (SQS's binaryValue, SNS's Value), as its type (SQS's
// dataType, SNS's Type) says. Values of another kind than a string read
// as "".
type ddAttr struct {
	stringValue, value, binaryValue, dataType, typ string
}

type record struct {
	eventSource, eventSourceSNS, eventSourceARN, eventName, eventTime, messageID, awsRegion string

	sentTimestamp, awsTraceHeader string
	attrs                         msgAttrs

	hasSNS                          bool
	snsMessageID, topicArn, snsTime string
	snsAttrs                        msgAttrs

	hasS3  bool
	bucket string

	hasDynamoDB bool
	created     float64

	hasKinesis bool
	arrived    float64

	// body is the trace context in an SQS message's body when the body
	// is another service's envelope (bodyContext).
	body Context
}

// scanner walks a JSON text. ok turns false at the first syntax or type
// error, and the walk stops.
type scanner struct {
	// capture names the headers kept besides the trace headers.
	capture []string
	b       []byte
	i       int
	depth   int
	ok      bool
	// key holds a key that needed decoding.
	key []byte
	// keyASCII says the last key member read is all ASCII.
	keyASCII bool
	// arena holds the strings kept.
	arena *strArena
}

// strArena makes the strings a scan keeps out of a few blocks rather than
// one allocation each: a 10-record SQS batch keeps some fifty strings
// (message IDs, trace headers, sent timestamps). A block's bytes are never
// written again once a string refers to them, so the strings are as
// immutable as any; a Trigger keeps its blocks alive, at most a few KiB.
type strArena struct {
	block []byte
	// size is the size of the next block.
	size int
}

// Blocks are sized by the event: what a scan keeps is a small part of
// it, and never more than all of it.
const (
	minStrBlock = 256
	maxStrBlock = 4 << 10
)

func newStrArena(event int) strArena {
	return strArena{size: min(max(event/8, minStrBlock), maxStrBlock)}
}

// string returns b as a string.
func (a *strArena) string(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if len(b) > a.size/4 {
		return string(b)
	}
	if cap(a.block)-len(a.block) < len(b) {
		a.block = make([]byte, 0, a.size)
		a.size = maxStrBlock
	}
	n := len(a.block)
	a.block = append(a.block, b...)
	return unsafe.String(&a.block[n], len(b))
}

// scan reads an event, its records into records' room; ok is false when
// encoding/json would refuse it.
func scan(b []byte, records []record, capture []string) (ev event, ok bool) {
	ev.records = records
	if len(capture) > 0 {
		ev.headers.capture = make([]captured, len(capture))
	}
	arena := newStrArena(len(b))
	s := scanner{b: b, ok: true, capture: capture, arena: &arena}
	s.event(&ev)
	s.ws()
	if s.i != len(s.b) {
		s.ok = false
	}
	return ev, s.ok
}

func (s *scanner) fail() {
	s.ok = false
	s.i = len(s.b)
}

func (s *scanner) ws() {
	if s.i < len(s.b) && s.b[s.i] > ' ' {
		return
	}
	s.skipWS()
}

// skipWS skips white space eight bytes at a time: the new line and
// indent of a formatted text, or the space after a colon. Spaces are
// marked exactly and a word of them skipped at once; a tab or a line end
// is stepped over and the next word read from the byte after it.
func (s *scanner) skipWS() {
	b, i := s.b, s.i
	// The space after a colon.
	if i+1 < len(b) && b[i+1] > ' ' && b[i] == ' ' {
		s.i = i + 1
		return
	}
	// The line end before an indent.
	if i < len(b) && b[i] == '\n' {
		i++
	}
	for i+8 <= len(b) {
		t := load64(b, i) ^ spaces
		// The bytes that are not spaces (none carries into the next).
		other := (t&low7 + low7 | t) & highs
		if other == 0 {
			i += 8
			continue
		}
		i += bits.TrailingZeros64(other) >> 3
		switch b[i] {
		case '\n', '\r', '\t':
			i++
		default:
			s.i = i
			return
		}
	}
	for ; i < len(b); i++ {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
		default:
			s.i = i
			return
		}
	}
	s.i = i
}

// cur is the byte at the scanner's place (0 at the end, an error): after
// s.ws(), the first byte of the next value. Both are inlined.
func (s *scanner) cur() byte {
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	s.fail()
	return 0
}

func (s *scanner) literal(lit string) {
	if len(s.b)-s.i < len(lit) || string(s.b[s.i:s.i+len(lit)]) != lit {
		s.fail()
		return
	}
	s.i += len(lit)
}

// load64 is the word of b at i, in little-endian order; of a constant
// length, the slice costs no bounds arithmetic.
func load64(b []byte, i int) uint64 {
	return binary.LittleEndian.Uint64(b[i : i+8])
}

// strTok reads a string token (s.b[s.i] is '"') and returns its contents'
// bounds; raw is false when it holds escapes or bytes beyond ASCII.
func (s *scanner) strTok() (start, end int, raw bool) {
	b := s.b
	start = s.i + 1
	i := start
	// Keys and most kept values are short: up to the closing quote eight
	// bytes at a time. A byte beyond ASCII is read on as an escape is.
	for lim := min(start+shortStr, len(b)) - 8; i <= lim; i += 8 {
		x := load64(b, i)
		if m := special(x) | x&highs; m != 0 {
			k := bits.TrailingZeros64(m) >> 3
			if b[i+k] == '"' {
				s.i = i + k + 1
				return start, i + k, true
			}
			return s.escaped(start, i+k)
		}
	}
	return s.strLong(start, i)
}

// strLong reads on a string token from i, its bytes before being ASCII
// and not a quote, a backslash or a control byte.
func (s *scanner) strLong(start, i int) (int, int, bool) {
	b := s.b
	// A longer one most often holds no escape either: find the closing
	// quote at once and look over what it closes.
	q := bytes.IndexByte(b[i:], '"')
	if q < 0 {
		s.fail()
		return 0, 0, false
	}
	bs, ctrl, high := classify8(b[i : i+q])
	switch {
	case ctrl:
		s.fail()
		return 0, 0, false
	case bs:
		return s.escaped(start, i+bytes.IndexByte(b[i:i+q], '\\'))
	}
	s.i = i + q + 1
	return start, i + q, !high
}

// shortStr is how much of a string strTok reads eight bytes at a time
// before it looks for the closing quote at once.
const shortStr = 64

// escaped reads on a string token from its first escape (or control
// byte, or byte beyond ASCII) at i to its end. A message body escapes a quote every few bytes:
// each word's quotes, backslashes and control bytes are marked exactly
// and read in turn, and an escape of two bytes within the word costs no
// new word.
func (s *scanner) escaped(start, i int) (int, int, bool) {
	b := s.b
	for {
	words:
		for i+8 <= len(b) {
			x := load64(b, i)
			q, bs := x^quotes, x^slashs
			q = ^(q&low7 + low7 | q) & highs
			bs = ^(bs&low7 + low7 | bs) & highs
			ctrl := ^(x&low7 + 0x6060606060606060 | x) & highs
			// Most often every backslash of the word escapes a quote
			// within it (a backslash escaping another is followed by no
			// quote): the quotes left end the string.
			if e := bs << 8; bs>>56 == 0 && e&^q == 0 && ctrl == 0 {
				if end := q &^ e; end != 0 {
					j := bits.TrailingZeros64(end) >> 3
					s.i = i + j + 1
					return start, i + j, false
				}
				i += 8
				continue
			}
			for m := q | bs | ctrl; m != 0; {
				j := bits.TrailingZeros64(m) >> 3
				switch b[i+j] {
				case '"':
					s.i = i + j + 1
					return start, i + j, false
				case '\\':
					if j < 7 && escapeLen[b[i+j+1]] == 2 {
						// The escape and the byte it escapes.
						m &^= 1<<((j+2)<<3) - 1
						continue
					}
					i += j
					break words
				default:
					s.fail()
					return 0, 0, false
				}
			}
			i += 8
		}
		// One byte at a time: an escape at a word's end or of six bytes,
		// or the last bytes of the event.
		if i >= len(b) {
			s.fail()
			return 0, 0, false
		}
		switch c := b[i]; {
		case c == '\\':
			if i+1 >= len(b) {
				s.fail()
				return 0, 0, false
			}
			switch escapeLen[b[i+1]] {
			case 2:
				i += 2
			case 6:
				if i+6 > len(b) || !isHex(b[i+2]) || !isHex(b[i+3]) || !isHex(b[i+4]) || !isHex(b[i+5]) {
					s.fail()
					return 0, 0, false
				}
				i += 6
			default:
				s.fail()
				return 0, 0, false
			}
		case c == '"':
			s.i = i + 1
			return start, i, false
		case c < 0x20:
			s.fail()
			return 0, 0, false
		default:
			i++
		}
	}
}

// classify8 tells whether b holds a backslash, a control byte (below
// 0x20) and a byte beyond ASCII, eight bytes at a time.
func classify8(b []byte) (bs, ctrl, high bool) {
	var acc, slash, lo uint64
	n := len(b)
	if n < 8 {
		for _, c := range b {
			acc |= uint64(c)
			ctrl = ctrl || c < 0x20
			bs = bs || c == '\\'
		}
		return bs, ctrl, acc&highs != 0
	}
	// The last eight bytes, which the words before may overlap.
	last := binary.LittleEndian.Uint64(b[n-8:])
	for len(b) >= 8 {
		x := binary.LittleEndian.Uint64(b)
		acc |= x
		// A byte below 0x20 (high bit clear) borrows when 0x20 is taken
		// from it, a backslash (made 0) when 1 is.
		lo |= (x - spaces) &^ x
		y := x ^ slashs
		slash |= (y - lows) &^ y
		b = b[8:]
	}
	acc |= last
	lo |= (last - spaces) &^ last
	y := last ^ slashs
	slash |= (y - lows) &^ y
	return slash&highs != 0, lo&highs != 0, acc&highs != 0
}

const (
	lows   = 0x0101010101010101
	highs  = 0x8080808080808080
	spaces = 0x2020202020202020
	quotes = 0x2222222222222222
	slashs = 0x5c5c5c5c5c5c5c5c
	low7   = 0x7f7f7f7f7f7f7f7f
)

// special marks the bytes of x that end a run of a string's plain bytes:
// a quote, a backslash, a control byte (below 0x20). The lowest mark is
// exact (a mark above it may be false: a borrow carries up).
func special(x uint64) uint64 {
	q, bs := x^quotes, x^slashs
	return ((q-lows)&^q | (bs-lows)&^bs | (x-spaces)&^x) & highs
}

// escapeLen is the length of an escape by the byte after its backslash,
// 0 for none.
var escapeLen = func() (t [256]uint8) {
	for _, c := range `"\\/bfnrt` {
		t[c] = 2
	}
	t['u'] = 6
	return t
}()

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// decode is the value of a string token: its bytes when raw or valid UTF-8
// without escapes, else what encoding/json makes of it.
func (s *scanner) decode(start, end int, raw bool) string {
	if raw || (!hasByte(s.b[start:end], '\\') && utf8.Valid(s.b[start:end])) {
		return s.arena.string(s.b[start:end])
	}
	var v string
	if err := json.Unmarshal(s.b[start-1:end+1], &v); err != nil {
		s.fail()
	}
	return v
}

// text is the value of a string token as decode has it, as bytes that
// are only read: the event's own when it holds no escape.
func (s *scanner) text(start, end int, raw bool) []byte {
	if raw || (!hasByte(s.b[start:end], '\\') && utf8.Valid(s.b[start:end])) {
		return s.b[start:end]
	}
	var v string
	if err := json.Unmarshal(s.b[start-1:end+1], &v); err != nil {
		s.fail()
	}
	return unsafe.Slice(unsafe.StringData(v), len(v))
}

func hasByte(b []byte, c byte) bool {
	for _, x := range b {
		if x == c {
			return true
		}
	}
	return false
}

// str reads a string value into dst; null leaves dst as it is.
func (s *scanner) str(dst *string) {
	s.ws()
	switch s.cur() {
	case '"':
		*dst = s.decode(s.strTok())
	case 'n':
		s.literal("null")
	default:
		s.fail()
	}
}

// strLike reads a string value into dst as str does, taking like's
// string when the value is the same (the source of every record of a
// batch is).
func (s *scanner) strLike(dst *string, like string) {
	s.ws()
	if s.cur() == '"' {
		start, end, raw := s.strTok()
		if raw && string(s.b[start:end]) == like {
			*dst = like
		} else if s.ok {
			*dst = s.decode(start, end, raw)
		}
		return
	}
	s.str(dst)
}

// strOrNull reads a string value (or null) and keeps nothing.
func (s *scanner) strOrNull() {
	s.ws()
	switch s.cur() {
	case '"':
		s.strTok()
	case 'n':
		s.literal("null")
	default:
		s.fail()
	}
}

// numTok reads a number token.
func (s *scanner) numTok() []byte {
	b, start := s.b, s.i
	i := start
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && '1' <= b[i] && b[i] <= '9':
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			i++
		}
	default:
		s.fail()
		return nil
	}
	if i < len(b) && b[i] == '.' {
		i++
		d := i
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			i++
		}
		if i == d {
			s.fail()
			return nil
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		d := i
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			i++
		}
		if i == d {
			s.fail()
			return nil
		}
	}
	s.i = i
	return b[start:i]
}

func isNumStart(c byte) bool { return c == '-' || '0' <= c && c <= '9' }

// int reads an integer value into dst; null leaves dst as it is.
func (s *scanner) int(dst *int64) {
	s.ws()
	c := s.cur()
	if c == 'n' {
		s.literal("null")
		return
	}
	if !isNumStart(c) {
		s.fail()
		return
	}
	tok := s.numTok()
	if !s.ok {
		return
	}
	n, err := strconv.ParseInt(string(tok), 10, 64)
	if err != nil {
		s.fail()
		return
	}
	*dst = n
}

// float reads a number value into dst; null leaves dst as it is.
func (s *scanner) float(dst *float64) {
	s.ws()
	c := s.cur()
	if c == 'n' {
		s.literal("null")
		return
	}
	if !isNumStart(c) {
		s.fail()
		return
	}
	tok := s.numTok()
	if !s.ok {
		return
	}
	f, err := strconv.ParseFloat(string(tok), 64)
	if err != nil {
		s.fail()
		return
	}
	*dst = f
}

// open consumes c ('{' or '[') and counts the depth.
func (s *scanner) open() bool {
	s.i++
	s.depth++
	if s.depth > maxDepth {
		s.fail()
		return false
	}
	return true
}

// object starts an object value: it returns false for null (and on error)
// and, for an object, consumes the '{'. Any other value is a type error.
func (s *scanner) object() bool {
	s.ws()
	switch s.cur() {
	case '{':
		return s.open()
	case 'n':
		s.literal("null")
	default:
		s.fail()
	}
	return false
}

// array starts an array value as object does an object.
func (s *scanner) array() bool {
	s.ws()
	switch s.cur() {
	case '[':
		return s.open()
	case 'n':
		s.literal("null")
	default:
		s.fail()
	}
	return false
}

// member moves to the next member of an object (n counts those read) and
// returns its key; false at the object's end.
func (s *scanner) member(n int) ([]byte, bool) {
	// The scanner's place is kept in i, and white space skipped as ws
	// does, outside the loop of skipWS.
	b, i := s.b, s.i
	if i >= len(b) || b[i] <= ' ' {
		s.skipWS()
		if i = s.i; i >= len(b) {
			s.fail()
			return nil, false
		}
	}
	c := b[i]
	if c == '}' {
		s.i = i + 1
		s.depth--
		return nil, false
	}
	if n > 0 {
		if c != ',' {
			s.fail()
			return nil, false
		}
		i++
		if i >= len(b) || b[i] <= ' ' {
			s.i = i
			s.skipWS()
			if i = s.i; i >= len(b) {
				s.fail()
				return nil, false
			}
		}
		c = b[i]
	}
	if c != '"' {
		s.fail()
		return nil, false
	}
	s.i = i
	start, end, raw := s.strTok()
	if !s.ok {
		return nil, false
	}
	key := b[start:end]
	s.keyASCII = raw
	if !raw {
		s.key = append(s.key[:0], s.text(start, end, raw)...)
		key = s.key
		s.keyASCII = isASCII(key)
	}
	if i = s.i; i >= len(b) || b[i] != ':' {
		s.ws()
		if i = s.i; i >= len(b) || b[i] != ':' {
			s.fail()
			return nil, false
		}
	}
	// The colon and the space after it, most often.
	if i+2 < len(b) && b[i+1] == ' ' && b[i+2] > ' ' {
		s.i = i + 2
	} else {
		s.i = i + 1
	}
	return key, s.ok
}

// elem moves to the next element of an array (n counts those read); false
// at the array's end.
func (s *scanner) elem(n int) bool {
	s.ws()
	c := s.cur()
	if c == ']' {
		s.i++
		s.depth--
		return false
	}
	if n > 0 {
		if c != ',' {
			s.fail()
			return false
		}
		s.i++
	}
	return s.ok
}

// skip reads a value of any kind and keeps nothing.
func (s *scanner) skip() {
	s.ws()
	switch c := s.cur(); {
	case c == '"':
		s.strTok()
	case c == '{':
		if !s.open() {
			return
		}
		for n := 0; ; n++ {
			if _, ok := s.member(n); !ok {
				return
			}
			s.skip()
		}
	case c == '[':
		if !s.open() {
			return
		}
		for n := 0; s.elem(n); n++ {
			s.skip()
		}
	case c == 't':
		s.literal("true")
	case c == 'f':
		s.literal("false")
	case c == 'n':
		s.literal("null")
	case isNumStart(c):
		s.numTok()
	default:
		s.fail()
	}
}

// field is the index of key among a struct's field names, as encoding/json
// matches them: exactly, else by folded case (the first such field); -1
// for none.
func field(key []byte, ascii bool, f *fieldNames) int {
	names := f.names
	if ascii {
		// An ASCII key matches only a name of its length.
		if len(key) >= len(f.byLen) {
			return -1
		}
		set := f.byLen[len(key)]
		for m := set; m != 0; m &= m - 1 {
			if i := bits.TrailingZeros64(m); string(key) == names[i] {
				return i
			}
		}
		for m := set; m != 0; m &= m - 1 {
			if i := bits.TrailingZeros64(m); asciiFold(key, names[i]) {
				return i
			}
		}
		return -1
	}
	// A rune is at most 4 bytes and folds to at least one: a key longer
	// than 4 bytes for each byte of the longest name folds to no name, and
	// is not folded (a long key of runes that are not ASCII, bytes that
	// are not UTF-8 among them, took 200 ns a byte).
	if len(key) > 4*f.maxLen {
		return -1
	}
	for i, n := range names {
		if string(key) == n {
			return i
		}
	}
	var buf [64]byte
	folded := foldName(buf[:0], key)
	for i, n := range names {
		if len(n) == len(folded) && asciiFold(folded, n) {
			return i
		}
	}
	return -1
}

// fieldNames are the names of a struct's fields (at most 64), by their
// length (below 64).
type fieldNames struct {
	names []string
	// byLen is the set of the names of each length, by their index.
	byLen  [64]uint64
	maxLen int // the longest name's length
}

func fieldsOf(names ...string) *fieldNames {
	if len(names) > 64 {
		panic("trigger: more than 64 field names")
	}
	f := &fieldNames{names: names}
	for i, n := range names {
		if len(n) < len(f.byLen) {
			f.byLen[len(n)] |= 1 << i
		}
		f.maxLen = max(f.maxLen, len(n))
	}
	return f
}

func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

func asciiFold(a []byte, b string) bool {
	for i := range a {
		x, y := a[i], b[i]
		if 'a' <= x && x <= 'z' {
			x -= 'a' - 'A'
		}
		if 'a' <= y && y <= 'z' {
			y -= 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// foldName folds a key as encoding/json does: each rune to the smallest of
// its simple folding orbit.
func foldName(out, in []byte) []byte {
	for i := 0; i < len(in); {
		if c := in[i]; c < utf8.RuneSelf {
			if 'a' <= c && c <= 'z' {
				c -= 'a' - 'A'
			}
			out = append(out, c)
			i++
			continue
		}
		r, n := utf8.DecodeRune(in[i:])
		for {
			r2 := unicode.SimpleFold(r)
			if r2 <= r {
				r = r2
				break
			}
			r = r2
		}
		out = utf8.AppendRune(out, r)
		i += n
	}
	return out
}

var eventFields = fieldsOf("version", "resource", "path", "httpMethod", "routeKey", "rawPath", "headers",
	"multiValueHeaders", "requestContext", "Records", "detail-type", "source", "time", "resources", "awslogs",
	"Execution", "StateMachine", "DurableExecutionArn", "InitialExecutionState", "detail")

func (s *scanner) event(ev *event) {
	if !s.object() {
		return
	}
	for n := 0; ; n++ {
		key, ok := s.member(n)
		if !ok {
			return
		}
		switch field(key, s.keyASCII, eventFields) {
		case 0:
			s.str(&ev.version)
		case 1:
			s.str(&ev.resource)
		case 2:
			s.str(&ev.path)
		case 3:
			s.str(&ev.httpMethod)
		case 4:
			s.str(&ev.routeKey)
		case 5:
			s.str(&ev.rawPath)
		case 6:
			s.headers(&ev.headers, false)
		case 7:
			s.headers(&ev.headers, true)
		case 8:
			if s.object() {
				ev.hasRC = true
				s.httpContext(&ev.rc)
			} else {
				ev.hasRC = false
			}
		case 9:
			s.records(ev)
		case 10:
			s.str(&ev.detailType)
		case 11:
			s.str(&ev.source)
		case 12:
			s.str(&ev.time)
		case 13:
			ev.resources = 0
			if s.array() {
				for ; s.elem(ev.resources); ev.resources++ {
					if ev.resources == 0 {
						ev.resource0 = ""
						s.str(&ev.resource0)
					} else {
						s.strOrNull()
					}
				}
			}
		case 14:
			ev.hasLogs = s.object()
			if ev.hasLogs {
				ev.logsData = ""
				s.fields(awslogsFields, func(int) { s.str(&ev.logsData) })
			}
		case 15:
			ev.hasExec = s.object()
			if ev.hasExec {
				ev.execID = ""
				s.fields(idFields, func(int) { s.str(&ev.execID) })
			}
		case 16:
			ev.hasSM = s.object()
			if ev.hasSM {
				ev.smID, ev.smName = "", ""
				s.fields(smFields, func(i int) {
					if i == 0 {
						s.str(&ev.smID)
					} else {
						s.str(&ev.smName)
					}
				})
			}
		case 17:
			s.str(&ev.durableArn)
		case 18:
			ev.hasState = s.object()
			if ev.hasState {
				s.fields(stateFields, func(f int) {
					if f == 0 {
						s.operations(ev)
					} else {
						s.str(&ev.nextMarker)
					}
				})
			} else {
				ev.ops, ev.nextMarker = nil, ""
			}
		case 19:
			s.detail(&ev.detail)
		default:
			s.skip()
		}
	}
}

var (
	detailFields  = fieldsOf("traceparent", "tracestate", "baggage", "_datadog")
	datadogFields = fieldsOf("traceparent", "tracestate")
)

// detail reads an EventBridge event's detail, any JSON value: of an
// object, the trace context's string members; a member of another kind
// counts as absent, as does a detail that is no object.
func (s *scanner) detail(d *eventDetail) {
	*d = eventDetail{}
	s.ws()
	if s.cur() != '{' {
		s.skip()
		return
	}
	if !s.open() {
		return
	}
	s.fields(detailFields, func(f int) {
		switch f {
		case 0:
			s.anyStr(&d.traceparent)
		case 1:
			s.anyStr(&d.tracestate)
		case 2:
			s.anyStr(&d.baggage)
		case 3:
			d.ddTraceparent, d.ddTracestate = "", ""
			s.ws()
			if s.cur() != '{' {
				s.skip()
				return
			}
			if !s.open() {
				return
			}
			s.fields(datadogFields, func(f int) {
				if f == 0 {
					s.anyStr(&d.ddTraceparent)
				} else {
					s.anyStr(&d.ddTracestate)
				}
			})
		}
	})
}

// anyStr reads a value of any kind into dst: a string's text, "" for any
// other value.
func (s *scanner) anyStr(dst *string) {
	s.ws()
	if s.cur() == '"' {
		*dst = s.decode(s.strTok())
		return
	}
	*dst = ""
	s.skip()
}

var (
	stateFields     = fieldsOf("Operations", "NextMarker")
	operationFields = fieldsOf("Type", "StartTimestamp", "EndTimestamp")
)

// operations reads the operations of a durable execution's state.
func (s *scanner) operations(ev *event) {
	ev.ops = ev.ops[:0]
	if !s.array() {
		ev.ops = nil
		return
	}
	for n := 0; s.elem(n); n++ {
		ev.ops = append(ev.ops, durableOp{})
		op := &ev.ops[n]
		if !s.object() {
			continue
		}
		s.fields(operationFields, func(f int) {
			switch f {
			case 0:
				s.str(&op.typ)
			case 1:
				s.timestamp(&op.start)
			case 2:
				s.timestamp(&op.end)
			}
		})
	}
}

// timestamp reads a time given as a number since the epoch (epoch) or as
// RFC 3339 text; a value of another kind is taken and ignored.
func (s *scanner) timestamp(dst *time.Time) {
	s.ws()
	switch c := s.cur(); {
	case c == '"':
		var v string
		s.str(&v)
		*dst = parseTime(v)
	case isNumStart(c):
		var f float64
		s.float(&f)
		*dst = epoch(f)
	default:
		s.skip()
	}
}

var (
	awslogsFields = fieldsOf("data")
	idFields      = fieldsOf("Id")
	smFields      = fieldsOf("Id", "Name")
)

// fields reads the members of an object whose '{' was consumed: a known
// field is read by read (with its index), the others are skipped.
func (s *scanner) fields(names *fieldNames, read func(int)) {
	for n := 0; ; n++ {
		key, ok := s.member(n)
		if !ok {
			return
		}
		if f := field(key, s.keyASCII, names); f >= 0 {
			read(f)
		} else {
			s.skip()
		}
	}
}

// headers reads "headers" (a map of strings) or "multiValueHeaders" (a map
// of string lists), keeping the trace headers. Names match without regard
// to case; null forgets what an earlier map of the same name held.
func (s *scanner) headers(h *headers, multi bool) {
	if !s.object() {
		if multi {
			h.hasMul, h.multi = [nHeaders]bool{}, [nHeaders]string{}
		} else {
			h.hasSingle, h.single = [nHeaders]bool{}, [nHeaders]string{}
		}
		for i := range h.capture {
			if multi {
				h.capture[i].multi, h.capture[i].hasMul = "", false
			} else {
				h.capture[i].single, h.capture[i].hasSingle = "", false
			}
		}
		return
	}
	for n := 0; ; n++ {
		key, ok := s.member(n)
		if !ok {
			return
		}
		want, capture := -1, -1
		for i, name := range headerNames {
			if len(key) >= len(name) && equalFold(key, name) {
				want = i
				break
			}
		}
		for i, name := range s.capture {
			if len(key) >= len(name) && equalFold(key, name) {
				capture = i
				break
			}
		}
		if !multi {
			if want < 0 && capture < 0 {
				s.strOrNull()
				continue
			}
			var v string
			s.str(&v)
			if want >= 0 {
				h.single[want], h.hasSingle[want] = v, true
			}
			if capture >= 0 {
				h.capture[capture].single, h.capture[capture].hasSingle = v, true
			}
			continue
		}
		// A list: its first value counts, an empty list or null none.
		first, has := "", false
		if s.array() {
			for i := 0; s.elem(i); i++ {
				if i == 0 && (want >= 0 || capture >= 0) {
					has = true
					s.str(&first)
				} else {
					s.strOrNull()
				}
			}
		}
		if want >= 0 {
			h.multi[want], h.hasMul[want] = first, has
		}
		if capture >= 0 {
			h.capture[capture].multi, h.capture[capture].hasMul = first, has
		}
	}
}

// equalFold is strings.EqualFold of a key and a name.
func equalFold(key []byte, name string) bool {
	if len(key) == len(name) && asciiFold(key, name) {
		return true
	}
	for _, c := range key {
		if c >= utf8.RuneSelf {
			return strings.EqualFold(string(key), name)
		}
	}
	return false
}

var httpContextFields = fieldsOf("requestTimeEpoch", "timeEpoch", "apiId", "domainName", "stage", "resourcePath",
	"routeKey", "eventType", "connectionId", "httpMethod", "elb", "http")

var (
	elbFields  = fieldsOf("targetGroupArn")
	httpFields = fieldsOf("method", "path")
)

func (s *scanner) httpContext(rc *httpContext) {
	s.fields(httpContextFields, func(f int) {
		switch f {
		case 0:
			s.int(&rc.requestTimeEpoch)
		case 1:
			s.int(&rc.timeEpoch)
		case 2:
			s.str(&rc.apiID)
		case 3:
			s.str(&rc.domainName)
		case 4:
			s.str(&rc.stage)
		case 5:
			s.str(&rc.resourcePath)
		case 6:
			s.str(&rc.routeKey)
		case 7:
			s.str(&rc.eventType)
		case 8:
			s.str(&rc.connectionID)
		case 9:
			s.str(&rc.httpMethod)
		case 10:
			rc.hasELB = s.object()
			if rc.hasELB {
				s.fields(elbFields, func(int) { s.str(&rc.targetGroupArn) })
			} else {
				rc.targetGroupArn = ""
			}
		case 11:
			rc.hasHTTP = s.object()
			if rc.hasHTTP {
				s.fields(httpFields, func(i int) {
					if i == 0 {
						s.str(&rc.method)
					} else {
						s.str(&rc.httpPath)
					}
				})
			} else {
				rc.method, rc.httpPath = "", ""
			}
		}
	})
}

func (s *scanner) records(ev *event) {
	ev.records = ev.records[:0]
	if !s.array() {
		return
	}
	for n := 0; s.elem(n); n++ {
		ev.records = append(ev.records, record{})
		if s.object() {
			var like *record
			if n > 0 {
				like = &ev.records[n-1]
			}
			s.record(&ev.records[n], like)
		}
	}
}

var recordFields = fieldsOf("eventSource", "EventSource", "eventSourceARN", "eventName", "eventTime", "messageId",
	"awsRegion", "attributes", "messageAttributes", "Sns", "s3", "dynamodb", "kinesis", "body")

var (
	snsFields      = fieldsOf("MessageId", "TopicArn", "Timestamp", "MessageAttributes")
	s3Fields       = fieldsOf("bucket")
	nameFields     = fieldsOf("name")
	dynamoDBFields = fieldsOf("ApproximateCreationDateTime")
	kinesisFields  = fieldsOf("approximateArrivalTimestamp")
	attrFields     = fieldsOf("stringValue", "Value", "binaryValue", "dataType", "Type")
)

// record reads a record; like is the record before it, whose values the
// record's may share.
func (s *scanner) record(r, like *record) {
	if like == nil {
		like = &record{}
	}
	s.fields(recordFields, func(f int) {
		switch f {
		case 0:
			s.strLike(&r.eventSource, like.eventSource)
		case 1:
			s.strLike(&r.eventSourceSNS, like.eventSourceSNS)
		case 2:
			s.strLike(&r.eventSourceARN, like.eventSourceARN)
		case 3:
			s.strLike(&r.eventName, like.eventName)
		case 4:
			s.str(&r.eventTime)
		case 5:
			s.str(&r.messageID)
		case 6:
			s.strLike(&r.awsRegion, like.awsRegion)
		case 7:
			if !s.object() {
				r.sentTimestamp, r.awsTraceHeader = "", ""
				return
			}
			for n := 0; ; n++ {
				key, ok := s.member(n)
				if !ok {
					return
				}
				switch string(key) {
				case "SentTimestamp":
					r.sentTimestamp = ""
					s.str(&r.sentTimestamp)
				case "AWSTraceHeader":
					r.awsTraceHeader = ""
					s.str(&r.awsTraceHeader)
				default:
					s.strOrNull()
				}
			}
		case 8:
			s.msgAttrs(&r.attrs)
		case 9:
			r.hasSNS = s.object()
			if !r.hasSNS {
				r.snsMessageID, r.topicArn, r.snsTime, r.snsAttrs = "", "", "", msgAttrs{}
				return
			}
			s.fields(snsFields, func(f int) {
				switch f {
				case 0:
					s.str(&r.snsMessageID)
				case 1:
					s.str(&r.topicArn)
				case 2:
					s.str(&r.snsTime)
				case 3:
					s.msgAttrs(&r.snsAttrs)
				}
			})
		case 10:
			r.hasS3 = s.object()
			if !r.hasS3 {
				r.bucket = ""
				return
			}
			s.fields(s3Fields, func(int) {
				if s.object() {
					s.fields(nameFields, func(int) { s.str(&r.bucket) })
				}
			})
		case 11:
			r.hasDynamoDB = s.object()
			if !r.hasDynamoDB {
				r.created = 0
				return
			}
			s.fields(dynamoDBFields, func(int) { s.float(&r.created) })
		case 12:
			r.hasKinesis = s.object()
			if !r.hasKinesis {
				r.arrived = 0
				return
			}
			s.fields(kinesisFields, func(int) { s.float(&r.arrived) })
		case 13:
			r.body = Context{}
			s.ws()
			if s.cur() != '"' {
				s.skip()
				return
			}
			start, end, raw := s.strTok()
			if s.ok && mayCarryContext(s.b[start:end]) {
				r.body = bodyContext(s.text(start, end, raw), s.arena)
			}
		}
	})
}

// traceparentName and datadogName are looked for in a message body, as
// it stands in the event, before the body is read as JSON: most bodies
// are not envelopes, and reading them would cost more than finding the
// names. (A _datadog attribute of type Binary hides its traceparent in
// base64.)
var (
	traceparentName = []byte("traceparent")
	datadogName     = []byte("_datadog")
)

// mayCarryContext says whether a message body, as it stands in the
// event, holds traceparentName or datadogName. "_datadog" is found by its
// first byte, rare in a body; "traceparent" by its 'p', where its 't' is
// among the commonest letters.
func mayCarryContext(b []byte) bool {
	if bytes.Contains(b, datadogName) {
		return true
	}
	// The bytes of "traceparent" before its 'p', and from it on.
	const before, after = 5, 6
	for i := before; i+after <= len(b); i++ {
		j := bytes.IndexByte(b[i:len(b)-after+1], 'p')
		if j < 0 {
			return false
		}
		i += j
		if string(b[i-before:i+after]) == string(traceparentName) {
			return true
		}
	}
	return false
}

var bodyFields = fieldsOf("Type", "MessageAttributes", "detail")

// bodyContext is the trace context of an SQS message's body that is the
// JSON envelope of another service: an SNS notification (Type
// "Notification") carries it in its MessageAttributes, an EventBridge
// event in its detail, as the events of those services do. A body of
// another shape, or no JSON, has none.
func bodyContext(text []byte, arena *strArena) Context {
	s := scanner{b: text, ok: true, arena: arena}
	var typ string
	var attrs msgAttrs
	var d eventDetail
	if !s.object() {
		return Context{}
	}
	s.fields(bodyFields, func(f int) {
		switch f {
		case 0:
			s.str(&typ)
		case 1:
			s.msgAttrs(&attrs)
		case 2:
			s.detail(&d)
		}
	})
	s.ws()
	if !s.ok || s.i != len(s.b) {
		return Context{}
	}
	if typ == "Notification" {
		return attrs.context(&attrs.value)
	}
	return d.context()
}

// msgAttrs reads a map of message attributes, keeping the trace ones.
func (s *scanner) msgAttrs(a *msgAttrs) {
	if !s.object() {
		*a = msgAttrs{}
		return
	}
	for n := 0; ; n++ {
		key, ok := s.member(n)
		if !ok {
			return
		}
		want := -1
		for i, name := range headerNames[:hXRay] {
			if string(key) == name {
				want = i
			}
		}
		dd := string(key) == "_datadog"
		var sv, v string
		var d ddAttr
		if s.object() {
			s.fields(attrFields, func(f int) {
				switch {
				case f >= 2 && !dd:
					s.skip()
				case f == 2:
					s.anyStr(&d.binaryValue)
				case f == 3:
					s.anyStr(&d.dataType)
				case f == 4:
					s.anyStr(&d.typ)
				case want < 0 && !dd:
					s.strOrNull()
				case f == 0:
					s.str(&sv)
				default:
					s.str(&v)
				}
			})
		}
		switch {
		case want >= 0:
			a.stringValue[want], a.value[want] = sv, v
		case dd:
			d.stringValue, d.value = sv, v
			a.dd = d
		}
	}
}
