package query

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestParseTraceID(t *testing.T) {
	const hexID = "5759e988bd862e3fe1be46a994272793"
	tests := []struct {
		name    string
		in      string
		want    string // hex of the parsed ID; empty when an error is expected
		wantErr string
	}{
		{name: "hex", in: hexID, want: hexID},
		{name: "upper case hex", in: strings.ToUpper(hexID), want: hexID},
		{name: "surrounding space", in: "  " + hexID + "\n", want: hexID},
		{name: "xray", in: "1-5759e988-bd862e3fe1be46a994272793", want: hexID},
		{name: "xray header", in: "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1", want: hexID},
		{name: "empty", in: "", wantErr: "got 0 characters"},
		{name: "too short", in: hexID[:31], wantErr: "want 32 hex digits"},
		{name: "too long", in: hexID + "0", wantErr: "want 32 hex digits"},
		{name: "not hex", in: "zz59e988bd862e3fe1be46a994272793", wantErr: "not hexadecimal"},
		{name: "all zeros", in: strings.Repeat("0", 32), wantErr: "all zeros"},
		{name: "xray wrong version", in: "2-5759e988-bd862e3fe1be46a994272793", wantErr: "X-Ray trace ID looks like"},
		{name: "xray short epoch", in: "1-5759e98-bd862e3fe1be46a994272793", wantErr: "X-Ray trace ID looks like"},
		{name: "xray short unique", in: "1-5759e988-bd862e3fe1be46a99427279", wantErr: "X-Ray trace ID looks like"},
		{name: "xray not hex", in: "1-5759e988-bd862e3fe1be46a99427279x", wantErr: "not hexadecimal"},
		{name: "uuid", in: "5759e988-bd86-2e3f-e1be-46a994272793", wantErr: "X-Ray trace ID looks like"},
		{name: "header without root", in: "Parent=53995c3f42cd8ad8;Sampled=1", wantErr: "X-Ray trace ID looks like"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseTraceID(tt.in)
			if tt.wantErr != "" {
				if err == nil {
					t.Fatalf("ParseTraceID(%q) = %s, want an error containing %q", tt.in, got, tt.wantErr)
				}
				if !errors.Is(err, ErrInvalidTraceID) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseTraceID(%q) error = %v, want ErrInvalidTraceID containing %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseTraceID(%q): %v", tt.in, err)
			}
			if got.String() != tt.want {
				t.Fatalf("ParseTraceID(%q) = %s, want %s", tt.in, got, tt.want)
			}
		})
	}
}

func TestIDsMarshalAsHex(t *testing.T) {
	v := struct {
		T TraceID
		S SpanID
	}{TraceID{0: 0xab, 15: 0x01}, SpanID{0: 0xcd, 7: 0x02}}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	const want = `{"T":"ab000000000000000000000000000001","S":"cd00000000000002"}`
	if string(b) != want {
		t.Fatalf("json = %s, want %s", b, want)
	}
}
