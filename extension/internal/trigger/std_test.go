package trigger

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The reference reader: the narrow structs encoding/json decoded events
// into before the scanner. The scanner must read every event as this does.

type stdHTTPContext struct {
	RequestTimeEpoch int64  `json:"requestTimeEpoch"`
	TimeEpoch        int64  `json:"timeEpoch"`
	APIID            string `json:"apiId"`
	DomainName       string `json:"domainName"`
	Stage            string `json:"stage"`
	ResourcePath     string `json:"resourcePath"`
	RouteKey         string `json:"routeKey"`
	EventType        string `json:"eventType"`
	ConnectionID     string `json:"connectionId"`
	HTTPMethod       string `json:"httpMethod"`
	ELB              *struct {
		TargetGroupArn string `json:"targetGroupArn"`
	} `json:"elb"`
	HTTP *struct {
		Method string `json:"method"`
		Path   string `json:"path"`
	} `json:"http"`
}

type stdAttrValue struct {
	StringValue string `json:"stringValue"`
	Value       string `json:"Value"`
	// Read of the _datadog attribute alone, of any kind.
	BinaryValue any `json:"binaryValue"`
	DataType    any `json:"dataType"`
	Type        any `json:"Type"`
}

type stdRecord struct {
	EventSource       string                  `json:"eventSource"`
	EventSourceSNS    string                  `json:"EventSource"`
	EventSourceARN    string                  `json:"eventSourceARN"`
	EventName         string                  `json:"eventName"`
	EventTime         string                  `json:"eventTime"`
	MessageID         string                  `json:"messageId"`
	AWSRegion         string                  `json:"awsRegion"`
	Attributes        map[string]string       `json:"attributes"`
	MessageAttributes map[string]stdAttrValue `json:"messageAttributes"`
	SNS               *struct {
		MessageID         string                  `json:"MessageId"`
		TopicArn          string                  `json:"TopicArn"`
		Timestamp         string                  `json:"Timestamp"`
		MessageAttributes map[string]stdAttrValue `json:"MessageAttributes"`
	} `json:"Sns"`
	S3 *struct {
		Bucket struct {
			Name string `json:"name"`
		} `json:"bucket"`
	} `json:"s3"`
	DynamoDB *struct {
		ApproximateCreationDateTime float64 `json:"ApproximateCreationDateTime"`
	} `json:"dynamodb"`
	Kinesis *struct {
		ApproximateArrivalTimestamp float64 `json:"approximateArrivalTimestamp"`
	} `json:"kinesis"`
	// Body is any JSON value; stdBodyContext reads a string.
	Body json.RawMessage `json:"body"`
}

// stdBody is an SQS message body read as an SNS or EventBridge envelope.
type stdBody struct {
	Type              string                  `json:"Type"`
	MessageAttributes map[string]stdAttrValue `json:"MessageAttributes"`
	Detail            json.RawMessage         `json:"detail"`
}

// stdBodyContext is bodyContext with encoding/json as the reader.
func stdBodyContext(raw json.RawMessage) Context {
	var text string
	if len(raw) == 0 || raw[0] != '"' || !bytes.Contains(raw, traceparentName) && !bytes.Contains(raw, datadogName) || json.Unmarshal(raw, &text) != nil {
		return Context{}
	}
	var b stdBody
	if json.Unmarshal([]byte(text), &b) != nil {
		return Context{}
	}
	if b.Type == "Notification" {
		a := stdAttrs(b.MessageAttributes)
		return a.context(&a.value)
	}
	d := stdEventDetail(b.Detail)
	return d.context()
}

// stdEventDetail reads an EventBridge detail as detail does.
func stdEventDetail(raw json.RawMessage) eventDetail {
	var d stdDetail
	if len(raw) == 0 || raw[0] != '{' || json.Unmarshal(raw, &d) != nil {
		return eventDetail{}
	}
	ed := eventDetail{traceparent: stdString(d.Traceparent), tracestate: stdString(d.Tracestate), baggage: stdString(d.Baggage)}
	var dd stdDatadog
	if len(d.Datadog) > 0 && d.Datadog[0] == '{' && json.Unmarshal(d.Datadog, &dd) == nil {
		ed.ddTraceparent, ed.ddTracestate = stdString(dd.Traceparent), stdString(dd.Tracestate)
	}
	return ed
}

type stdProbe struct {
	Version           string              `json:"version"`
	Resource          string              `json:"resource"`
	Path              string              `json:"path"`
	HTTPMethod        string              `json:"httpMethod"`
	RouteKey          string              `json:"routeKey"`
	RawPath           string              `json:"rawPath"`
	Headers           map[string]string   `json:"headers"`
	MultiValueHeaders map[string][]string `json:"multiValueHeaders"`
	RequestContext    *stdHTTPContext     `json:"requestContext"`
	Records           []stdRecord         `json:"Records"`
	DetailType        string              `json:"detail-type"`
	Source            string              `json:"source"`
	Time              string              `json:"time"`
	Resources         []string            `json:"resources"`
	AWSLogs           *struct {
		Data string `json:"data"`
	} `json:"awslogs"`
	Execution *struct {
		ID string `json:"Id"`
	} `json:"Execution"`
	StateMachine *struct {
		ID   string `json:"Id"`
		Name string `json:"Name"`
	} `json:"StateMachine"`
	DurableExecutionArn   string `json:"DurableExecutionArn"`
	InitialExecutionState *struct {
		Operations []struct {
			Type           string `json:"Type"`
			StartTimestamp any    `json:"StartTimestamp"`
			EndTimestamp   any    `json:"EndTimestamp"`
		} `json:"Operations"`
		NextMarker string `json:"NextMarker"`
	} `json:"InitialExecutionState"`
	// Detail is any JSON value; stdDetail reads an object.
	Detail json.RawMessage `json:"detail"`
}

type stdDetail struct {
	Traceparent any             `json:"traceparent"`
	Tracestate  any             `json:"tracestate"`
	Baggage     any             `json:"baggage"`
	Datadog     json.RawMessage `json:"_datadog"`
}

type stdDatadog struct {
	Traceparent any `json:"traceparent"`
	Tracestate  any `json:"tracestate"`
}

// stdString is a decoded value's text, "" for a value of another kind.
func stdString(v any) string {
	s, _ := v.(string)
	return s
}

// stdTime reads a decoded timestamp: seconds or RFC 3339 text.
func stdTime(v any) time.Time {
	switch x := v.(type) {
	case float64:
		return epoch(x)
	case string:
		return parseTime(x)
	}
	return time.Time{}
}

// detectStd is Detect with encoding/json as the reader.
func detectStd(b []byte) Trigger {
	if len(b) > MaxDecode {
		return sniff(b[:4096])
	}
	var p stdProbe
	if err := json.Unmarshal(b, &p); err != nil {
		return Trigger{Kind: Direct, Name: "invoke"}
	}
	ev := p.event()
	return classify(&ev)
}

func (p *stdProbe) event() event {
	ev := event{version: p.Version, resource: p.Resource, path: p.Path, httpMethod: p.HTTPMethod, routeKey: p.RouteKey,
		rawPath: p.RawPath, detailType: p.DetailType, source: p.Source, time: p.Time, resources: len(p.Resources)}
	for i, name := range headerNames {
		for k, v := range p.Headers {
			if strings.EqualFold(k, name) {
				ev.headers.single[i], ev.headers.hasSingle[i] = v, true
			}
		}
		for k, vv := range p.MultiValueHeaders {
			if strings.EqualFold(k, name) && len(vv) > 0 {
				ev.headers.multi[i], ev.headers.hasMul[i] = vv[0], true
			}
		}
	}
	if len(p.Resources) > 0 {
		ev.resource0 = p.Resources[0]
	}
	if rc := p.RequestContext; rc != nil {
		ev.hasRC = true
		ev.rc = httpContext{requestTimeEpoch: rc.RequestTimeEpoch, timeEpoch: rc.TimeEpoch, apiID: rc.APIID, domainName: rc.DomainName,
			stage: rc.Stage, resourcePath: rc.ResourcePath, routeKey: rc.RouteKey, eventType: rc.EventType, connectionID: rc.ConnectionID,
			httpMethod: rc.HTTPMethod}
		if rc.ELB != nil {
			ev.rc.hasELB, ev.rc.targetGroupArn = true, rc.ELB.TargetGroupArn
		}
		if rc.HTTP != nil {
			ev.rc.hasHTTP, ev.rc.method, ev.rc.httpPath = true, rc.HTTP.Method, rc.HTTP.Path
		}
	}
	if p.Records != nil {
		ev.records = []record{}
	}
	for _, r := range p.Records {
		rec := record{eventSource: r.EventSource, eventSourceSNS: r.EventSourceSNS, eventSourceARN: r.EventSourceARN,
			eventName: r.EventName, eventTime: r.EventTime, messageID: r.MessageID, awsRegion: r.AWSRegion,
			sentTimestamp: r.Attributes["SentTimestamp"], awsTraceHeader: r.Attributes["AWSTraceHeader"],
			attrs: stdAttrs(r.MessageAttributes), body: stdBodyContext(r.Body)}
		if r.SNS != nil {
			rec.hasSNS, rec.snsMessageID, rec.topicArn, rec.snsTime = true, r.SNS.MessageID, r.SNS.TopicArn, r.SNS.Timestamp
			rec.snsAttrs = stdAttrs(r.SNS.MessageAttributes)
		}
		if r.S3 != nil {
			rec.hasS3, rec.bucket = true, r.S3.Bucket.Name
		}
		if r.DynamoDB != nil {
			rec.hasDynamoDB, rec.created = true, r.DynamoDB.ApproximateCreationDateTime
		}
		if r.Kinesis != nil {
			rec.hasKinesis, rec.arrived = true, r.Kinesis.ApproximateArrivalTimestamp
		}
		ev.records = append(ev.records, rec)
	}
	if p.AWSLogs != nil {
		ev.hasLogs, ev.logsData = true, p.AWSLogs.Data
	}
	if p.Execution != nil {
		ev.hasExec, ev.execID = true, p.Execution.ID
	}
	if p.StateMachine != nil {
		ev.hasSM, ev.smID, ev.smName = true, p.StateMachine.ID, p.StateMachine.Name
	}
	ev.durableArn = p.DurableExecutionArn
	ev.detail = stdEventDetail(p.Detail)
	if st := p.InitialExecutionState; st != nil {
		ev.hasState, ev.nextMarker = true, st.NextMarker
		for _, op := range st.Operations {
			ev.ops = append(ev.ops, durableOp{typ: op.Type, start: stdTime(op.StartTimestamp), end: stdTime(op.EndTimestamp)})
		}
	}
	return ev
}

func stdAttrs(m map[string]stdAttrValue) msgAttrs {
	var a msgAttrs
	for i, name := range headerNames[:hXRay] {
		a.stringValue[i], a.value[i] = m[name].StringValue, m[name].Value
	}
	if dd, ok := m["_datadog"]; ok {
		a.dd = ddAttr{stringValue: dd.StringValue, value: dd.Value, binaryValue: stdString(dd.BinaryValue),
			dataType: stdString(dd.DataType), typ: stdString(dd.Type)}
	}
	return a
}

// repeatedKeys says whether an object of a valid JSON text names a key
// twice (the same or the same folded as encoding/json folds it). JSON
// leaves the meaning of such an object open (RFC 8259, 4): encoding/json
// merges repeated objects and lists where the scanner keeps the last, and
// takes a random one of a map's keys that differ by case only.
func repeatedKeys(b []byte) bool {
	d := json.NewDecoder(bytes.NewReader(b))
	type frame struct {
		object bool
		keys   map[string]bool
		key    bool // the next string token is a key
	}
	var stack []*frame
	for {
		tok, err := d.Token()
		if err != nil {
			return false
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		switch v := tok.(type) {
		case json.Delim:
			switch v {
			case '{', '[':
				if top != nil && top.object {
					top.key = true
				}
				stack = append(stack, &frame{object: v == '{', keys: map[string]bool{}, key: v == '{'})
			default:
				stack = stack[:len(stack)-1]
			}
			continue
		case string:
			if top != nil && top.object && top.key {
				f := string(foldName(nil, []byte(v)))
				if top.keys[f] {
					return true
				}
				top.keys[f] = true
				top.key = false
				continue
			}
		}
		if top != nil && top.object {
			top.key = true
		}
	}
}

// TestScanSampleEventsAsEncodingJSON: every sample event gives the same
// Trigger by the scanner as by encoding/json.
func TestScanSampleEventsAsEncodingJSON(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	if err != nil || len(files) < 15 {
		t.Fatalf("sample events: %v, %v", files, err)
	}
	more, _ := filepath.Glob(filepath.Join("testdata", "bench", "*.json"))
	for _, f := range append(files, more...) {
		t.Run(filepath.Base(f), func(t *testing.T) {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := Detect(b), detectStd(b); !reflect.DeepEqual(got, want) {
				t.Errorf("scanner:\n%+v\nencoding/json:\n%+v", got, want)
			}
		})
	}
}

func TestScanOddInputsAsEncodingJSON(t *testing.T) {
	for _, ev := range []string{
		``, ` `, `null`, `{}`, `[]`, `{"Records":null}`, `{"Records":[null]}`, `{"Records":[{"eventSource":"aws:sqs"}]} x`,
		`{"Records":[{"eventSource":"aws:sqs","attributes":{"SentTimestamp":1}}]}`,
		`{"Records":[{"eventSource":"aws:sqs","attributes":{"Other":1}}]}`,
		`{"Records":[{"eventSource":"aws:sqs","body":{"deep":[1,2,{"x":null}]},"messageAttributes":{"traceparent":null}}]}`,
		`{"Records":[{"EVENTSOURCE":"aws:sqs","eventSourceArn":"arn:aws:sqs:r:1:q"}]}`,
		`{"Records":[{"eventSource":"aws:sqs","body":"traceparent"}]}`,
		// A body is looked into when it holds "traceparent" or "_datadog"
		// anywhere, found by their 'p' and '_'.
		`{"Records":[{"eventSource":"aws:sqs","body":"p"}]}`, `{"Records":[{"eventSource":"aws:sqs","body":"traceparen"}]}`,
		`{"Records":[{"eventSource":"aws:sqs","body":"ppppptraceparentp"}]}`, `{"Records":[{"eventSource":"aws:sqs","body":"tracepparent"}]}`,
		`{"Records":[{"eventSource":"aws:sqs","body":"_datadog"}]}`, `{"Records":[{"eventSource":"aws:sqs","body":"_datado"}]}`,
		`{"Records":[{"eventSource":"aws:sqs","body":"{\"Type\":\"Notification\",\"MessageAttributes\":{\"traceparent\":{\"Value\":1}}}"}]}`,
		`{"Records":[{"eventSource":"aws:sqs","body":"{\"Type\":\"Notification\",\"MessageAttributes\":{\"traceparent\":{\"Value\":\"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\"}}} x"}]}`,
		`{"Records":[{"eventSource":"aws:sqs","body":"{\"detail\":\"traceparent\"}"}]}`,
		`{"Records":[{"eventSource":"aws:sqs","body":"{\"detail\":{\"traceparent\":\"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\"}}","body":null}]}`,
		`{"Records":[{"eventSource":"aws:sqs","body":"{\"Type\":\"Other\",\"detail\":{\"\\u0074raceparent\":\"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\"}}"}]}`,
		`{"Records":[{"eventSource":"aws:sqs","body":null,"messageAttributes":{"traceparent":{"stringValue":"00-xyz"}}}]}`,
		`{"Records":[{"\u0065ventSource":"aws:s\u0071s","ſns":null}]}`,
		`{"requestContext":{"requestTimeEpoch":1.5,"httpMethod":"GET"},"httpMethod":"GET"}`,
		`{"requestContext":{"requestTimeEpoch":"1","http":{}}}`,
		`{"requestContext":{"timeEpoch":99999999999999999999,"http":{}}}`,
		`{"requestContext":{"http":{"method":"GET"}},"headers":{"TraceParent":"x","other":5}}`,
		`{"requestContext":{"http":{"method":"GET"}},"headers":{"TraceParent":"x"},"multiValueHeaders":{"tracestate":[null,"a"],"baggage":[]}}`,
		`{"requestContext":{"elb":null,"http":null,"eventType":"A"},"httpMethod":"GET"}`,
		`{"detail-type":"Scheduled Event","source":"aws.events","resources":[null,"b"]}`,
		`{"detail-type":"x","source":"y","resources":[1]}`,
		`{"detail-type":"x","source":"y","detail":null}`, `{"detail-type":"x","source":"y","detail":"tp"}`,
		`{"detail-type":"x","source":"y","detail":{"traceparent":null,"TRACESTATE":["a"],"_datadog":null}}`,
		`{"detail-type":"x","source":"y","detail":{"_datadog":{"traceparent":1,"tracestate":"s"},"baggage":"b"}}`,
		`{"detail-type":"x","source":"y","detail":{"traceparent":"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}}`,
		`{"httpMethod":"GET","requestContext":{"httpMethod":"GET"},"detail":[1,{"traceparent":"x"}]}`,
		`{"awslogs":{"data":"H4sI"}}`, `{"awslogs":{"data":null}}`,
		// Strings read eight bytes at a time: a quote, an escape, a control
		// byte or a byte beyond ASCII at each place of the first words.
		`{"detail-type":"12345678","source":"1234567","time":"123456789012345"}`,
		`{"detail-type":"1234567\"8","source":"123456789012345\n6","time":"1234567890123456\u00e9"}`,
		`{"detail-type":"1234567` + "\x01" + `","source":"s"}`, `{"detail-type":"123456789012` + "\x1f" + `34567","source":"s"}`,
		`{"detail-type":"123456789012345678` + "\t" + `","source":"s"}`, `{"detail-type":"1234` + "\x7f" + `","source":"s"}`,
		`{"detail-type":"1234567` + "\xc3\xa9" + `","source":"123456789` + "\xff" + `12345678"}`,
		`{"detail-type":"` + strings.Repeat("\\\\", 9) + `","source":"` + strings.Repeat("\\\"", 5) + "\x00" + `"}`,
		`{"detail-type":"x` + strings.Repeat("\xe2\x82\xac", 11) + `","source":"` + strings.Repeat("a", 40) + `\/"}`,
		// White space: runs of spaces of every length, at the end too.
		"{\n" + strings.Repeat(" ", 7) + `"detail-type":` + strings.Repeat(" ", 8) + `"x",` + strings.Repeat(" ", 17) + "\t\r\n" + `"source" :"y"}` + strings.Repeat(" ", 9),
		`{"detail-type":"x","source":"y"}` + strings.Repeat(" ", 7) + "\x00",
		`{"detail-type":"x","source":"y"}` + strings.Repeat(" ", 15) + "x",
		`{"Execution":{"Id":"arn:aws:states:x"},"StateMachine":null}`,
		`{"a":"\ud800"}`, `{"a":"\x"}`, `{"a":tru}`, `{"a":01}`, `{"a":-}`, `{"a":1.}`, `{"a":1e}`, `{"a":"` + "\x01" + `"}`,
		`{"version":"` + "\xff" + `","httpMethod":"G` + "\xc3\xa9" + `T","requestContext":{"httpMethod":"x"}}`,
		strings.Repeat("[", maxDepth) + strings.Repeat("]", maxDepth),
		strings.Repeat("[", maxDepth+1) + strings.Repeat("]", maxDepth+1),
		`{"x":` + strings.Repeat("[", maxDepth-1) + strings.Repeat("]", maxDepth-1) + `}`,
		`{"x":` + strings.Repeat("[", maxDepth) + strings.Repeat("]", maxDepth) + `}`,
	} {
		if got, want := Detect([]byte(ev)), detectStd([]byte(ev)); !reflect.DeepEqual(got, want) {
			t.Errorf("%.80q:\nscanner:       %+v\nencoding/json: %+v", ev, got, want)
		}
	}
}

// FuzzScanAsEncodingJSON holds the scanner to encoding/json's reading of
// any event whose objects name each key once.
func FuzzScanAsEncodingJSON(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.json"))
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(`{"Records":[{"EVENTSOURCE":"aws:sqs","attributes":{"SentTimestamp":"1"},"messageAttributes":{"traceparent":{"Value":"v"}}}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		got, want := Detect(b), detectStd(b)
		// What Detect keeps is its own: writing over the event after
		// changes nothing of it.
		scratch := bytes.Clone(b)
		kept := Detect(scratch)
		for i := range scratch {
			scratch[i] = 'x'
		}
		if !reflect.DeepEqual(kept, got) {
			t.Fatalf("%q: after the event was written over:\n%+v\nbefore:\n%+v", b, kept, got)
		}
		// Capturing headers adds their attributes and changes nothing else.
		with := DetectWith(b, Options{Headers: []string{"user-agent", "traceparent"}})
		attrs := with.Attrs[:0:0]
		for _, a := range with.Attrs {
			if !strings.HasPrefix(a.Key, "http.request.header.") {
				attrs = append(attrs, a)
			}
		}
		if len(attrs) == 0 && len(got.Attrs) == 0 {
			attrs = got.Attrs
		}
		with.Attrs = attrs
		if !reflect.DeepEqual(with, got) {
			t.Fatalf("%q: with headers captured:\n%+v\nwithout:\n%+v", b, with, got)
		}
		if reflect.DeepEqual(got, want) {
			return
		}
		if json.Valid(b) && repeatedKeys(b) {
			t.Skip("a key named twice in one object")
		}
		t.Fatalf("%q:\nscanner:       %+v\nencoding/json: %+v", b, got, want)
	})
}

// benchEvents are the events of BenchmarkDetect: a realistic SQS batch of
// ten records with message attributes (traceparent, tracestate) and
// AWSTraceHeader, and AWS's API Gateway REST (v1) and HTTP (v2) samples.
var benchEvents = []struct{ name, file string }{
	{"sqs-10", "bench/sqs-batch-10.json"},
	{"apigw-v1", "apigw-request.json"},
	{"apigw-v2", "apigw-v2-request-no-authorizer.json"},
}

// BenchmarkDetect measures trigger detection and trace context extraction
// (Detect, then Resolve of the event's context and each record's) by the
// scanner and by encoding/json.
func BenchmarkDetect(b *testing.B) {
	for _, ev := range benchEvents {
		body, err := os.ReadFile(filepath.Join("testdata", ev.file))
		if err != nil {
			b.Fatal(err)
		}
		for _, r := range []struct {
			name   string
			detect func([]byte) Trigger
		}{{"scanner", Detect}, {"encoding-json", detectStd}} {
			b.Run(ev.name+"/"+r.name, func(b *testing.B) {
				b.SetBytes(int64(len(body)))
				b.ReportAllocs()
				// On a shared machine the wall time per operation counts
				// the time the thread waited for a core; cpu-ns/op is the
				// thread's own CPU time.
				runtime.LockOSThread()
				defer runtime.UnlockOSThread()
				cpu0 := threadCPU(b)
				for b.Loop() {
					tr := r.detect(body)
					if tr.Kind == Direct {
						b.Fatal("not detected")
					}
					_, _ = Resolve(tr.Context, "", DefaultPrecedence)
					for _, l := range tr.Linked {
						_, _ = Resolve(l.Context, "", DefaultPrecedence)
					}
				}
				b.ReportMetric(float64(threadCPU(b)-cpu0)/float64(b.N), "cpu-ns/op")
			})
		}
	}
}

// threadCPU is the CPU time of the calling thread, in nanoseconds.
func threadCPU(b *testing.B) int64 {
	b.Helper()
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_THREAD, &ru); err != nil {
		b.Fatalf("getrusage: %v", err)
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// TestMayCarryContextAsContains: a body is looked into exactly when it
// holds "traceparent" or "_datadog", wherever and however often their
// letters come.
func TestMayCarryContextAsContains(t *testing.T) {
	const letters = "traceparent_datadogx"
	bodies := []string{"", "traceparent", "_datadog", "xtraceparent", "traceparentx", "ptraceparent", "traceparenttraceparent"}
	seed := uint64(1)
	for range 20000 {
		b := make([]byte, 0, 40)
		seed = seed*6364136223846793005 + 1442695040888963407
		n := int(seed>>59) + int(seed>>40&7)
		for range n {
			seed = seed*6364136223846793005 + 1442695040888963407
			b = append(b, letters[seed>>33%uint64(len(letters))])
		}
		// Now and then a needle at a random place.
		if seed>>20&3 == 0 {
			at := int(seed>>8) % (len(b) + 1)
			b = append(b[:at], append([]byte("traceparent"), b[at:]...)...)
		}
		bodies = append(bodies, string(b))
	}
	found := 0
	for _, body := range bodies {
		b := []byte(body)
		want := bytes.Contains(b, traceparentName) || bytes.Contains(b, datadogName)
		if got := mayCarryContext(b); got != want {
			t.Fatalf("mayCarryContext(%q) = %v, want %v", body, got, want)
		}
		if want {
			found++
		}
	}
	if found < 1000 {
		t.Fatalf("only %d bodies of %d hold a name", found, len(bodies))
	}
}

// TestScanEscapeRunsAsEncodingJSON holds the word-wise reading of a
// string's escapes to encoding/json: runs of backslashes of every length
// before a quote, an escape or a control byte at every place of a word
// (and across two), escapes of six bytes, invalid escapes, control bytes,
// invalid UTF-8, and strings that end the event early, in a message body,
// a kept string and a skipped one.
func TestScanEscapeRunsAsEncodingJSON(t *testing.T) {
	var inner []string
	for pad := range 17 {
		p := strings.Repeat("a", pad)
		for run := range 6 {
			bs := strings.Repeat(`\`, run)
			inner = append(inner, p+bs+`"`+strings.Repeat("b", 20), p+bs+`"`, p+bs+`n`+strings.Repeat("c", 9))
		}
		for _, e := range []string{
			`\"`, `\\`, `\/`, `\b`, `\f`, `\n`, `\r`, `\t`, `\u00e9`, `\u0074`, `\uD83D\uDE00`, `\ud800`,
			`\u12`, `\u12g4`, `\x`, `\'`, `\ `, `\` + "\x00", "\x00", "\x01", "\x1f", "\t", "\n", "\x7f", "\x80", "\xff",
			"\xc3", "\xc3\xa9", "\xe2\x82\xac", "\xed\xa0\x80", `\"\"\"\"\"`, `\\\"\\\"`,
		} {
			inner = append(inner, p+e+strings.Repeat("d", 12), p+e+`\"x\"`+strings.Repeat("e", 30), p+e)
		}
	}
	body := `{\"orderId\": \"ord-1\", \"note\": \"Leave at the door \\\"B\\\"\\nring twice\"}`
	for _, in := range inner {
		for _, ev := range []string{
			`{"Records":[{"eventSource":"aws:sqs","body":"` + body + in + `","messageId":"m"}]}`,
			`{"Records":[{"eventSource":"aws:sqs","body":"` + in + `"}]}`,
			`{"Records":[{"eventSource":"aws:sqs","body":"` + in,
			`{"Records":[{"eventSource":"aws:sqs","body":"` + in + `"`,
			`{"detail-type":"` + strings.Repeat("f", 33) + in + `","source":"s"}`,
			`{"detail-type":"` + strings.Repeat("g", shortStr+5) + in + `","source":"s"}`,
			`{"detail-type":"d","source":"s","other":"` + in + `"}`,
		} {
			if got, want := Detect([]byte(ev)), detectStd([]byte(ev)); !reflect.DeepEqual(got, want) {
				t.Errorf("%q:\nscanner:       %+v\nencoding/json: %+v", ev, got, want)
			}
		}
	}
}

// TestScanWhiteSpaceAsEncodingJSON holds the skipping of white space to
// encoding/json: line ends, tabs and spaces in runs of every length and
// order, a control byte or a byte beyond ASCII within or after a run, and
// runs that end the event.
func TestScanWhiteSpaceAsEncodingJSON(t *testing.T) {
	var runs []string
	for n := range 20 {
		sp := strings.Repeat(" ", n)
		runs = append(runs, sp, "\n"+sp, "\r\n"+sp, sp+"\n", "\n"+sp+"\t", "\t"+sp+"\n\n"+sp, sp+"\r"+sp,
			"\n"+sp+"\x00", "\n"+sp+"\x0b", sp+"\x1f ", "\n"+sp+"\x80", "\n"+sp+"\x7f")
	}
	for _, ws := range runs {
		for _, ev := range []string{
			`{` + ws + `"detail-type"` + ws + `:` + ws + `"x"` + ws + `,` + ws + `"source":"y","resources":[` + ws + `"r"` + ws + `,1` + ws + `]` + ws + `}` + ws,
			`{"detail-type":"x","source":"y"` + ws,
			ws + `{"detail-type":"x","source":"y"}`,
		} {
			if got, want := Detect([]byte(ev)), detectStd([]byte(ev)); !reflect.DeepEqual(got, want) {
				t.Errorf("%q:\nscanner:       %+v\nencoding/json: %+v", ev, got, want)
			}
		}
	}
}

// TestFieldLongKeyNotFolded: a key that is not ASCII and too long to fold
// to any name is not folded (its folding grew a buffer a rune at a time:
// 200 ns a byte of a hostile event's keys), and keys that fold to a name
// still find it.
func TestFieldLongKeyNotFolded(t *testing.T) {
	long := []byte(strings.Repeat("\uFFFD", 4000))
	if got := field(long, false, eventFields); got != -1 {
		t.Errorf("field of a 12,000-byte key: %d, want -1", got)
	}
	if allocs := testing.AllocsPerRun(10, func() { field(long, false, eventFields) }); allocs != 0 {
		t.Errorf("field of a 12,000-byte key: %v allocations, want 0 (not folded)", allocs)
	}
	for key, want := range map[string]string{
		"\u017Fource":                 "source",
		"\u017F\u017F\u017F\u017F":    "",
		"INITIALEXECUTION\u017FTATE":  "InitialExecutionState",
		"\u212Aey\u017FInitial\u00e9": "",
	} {
		got := field([]byte(key), false, eventFields)
		if (want == "" && got != -1) || (want != "" && (got < 0 || eventFields.names[got] != want)) {
			t.Errorf("field(%q) = %d, want %q", key, got, want)
		}
	}
}
