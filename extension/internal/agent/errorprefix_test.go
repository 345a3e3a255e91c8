package agent

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/lambdascope/lambdascope/extension/internal/trigger"
)

// FuzzErrorOfPrefix: errorOfPrefix reads any input without panicking; once
// it found the type and the message in a beginning of a body, every longer
// beginning gives the same; and of a whole body it gives what
// trigger.ErrorOf gives, when it finds both and the object names each
// once.
func FuzzErrorOfPrefix(f *testing.F) {
	for _, s := range []string{
		`{"errorType":"TypeError","errorMessage":"boom","trace":["TypeError: boom","    at f (/var/task/index.js:1:1)"]}`,
		`{"errorMessage": "invalid literal", "errorType": "ValueError", "requestId": "r1", "stackTrace": ["  File \"/var/task/f.py\"\n"]}`,
		`{"errorMessage":"a","errorType":{"x":1},"stackTrace":"` + "\\u00e9\\ud83d\\ude00" + `"}`,
		`{"errorType":"E","errorType":"F","errorMessage":"m"}`,
		`["E"]`, `{`, `{"errorMessage":"cut`,
	} {
		f.Add([]byte(s), 10)
	}
	f.Fuzz(func(t *testing.T, b []byte, cutAt int) {
		typ, msg, cut, ok := errorOfPrefix(b, maxErrorScan)
		if ok {
			for _, n := range []int{len(b) + 1, len(b) + 64} {
				longer := append(append([]byte(nil), b...), make([]byte, n-len(b))...)
				for i := len(b); i < len(longer); i++ {
					longer[i] = ' '
				}
				t2, m2, c2, ok2 := errorOfPrefix(longer, maxErrorScan)
				if !ok2 || t2 != typ || m2 != msg || c2 != cut {
					t.Fatalf("longer: %q %q %v %v, want %q %q %v", t2, m2, c2, ok2, typ, msg, cut)
				}
			}
		}
		if cutAt >= 0 && cutAt < len(b) {
			// A beginning that finds both agrees with the whole.
			pt, pm, pc, pok := errorOfPrefix(b[:cutAt], maxErrorScan)
			if pok && (!ok || pt != typ || pm != msg || pc != cut) {
				t.Fatalf("beginning of %d bytes: %q %q %v, whole: %q %q %v %v", cutAt, pt, pm, pc, typ, msg, cut, ok)
			}
		}
		if ok && json.Valid(b) && onceEach(b) {
			if wt, wm, wc := trigger.ErrorOf(b, maxErrorScan); wt != typ || wm != msg || wc != cut {
				t.Fatalf("ErrorOf: %q %q %v, errorOfPrefix: %q %q %v", wt, wm, wc, typ, msg, cut)
			}
		}
	})
}

// onceEach says the JSON object b names errorType and errorMessage once
// each, in no other case (encoding/json matches a member to a field in
// any case, the last one holding; errorOfPrefix takes the first, exactly
// named, as every runtime writes it).
func onceEach(b []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(b))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return false
	}
	seen := map[string]int{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		key, _ := tok.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return false
		}
		for _, name := range []string{"errorType", "errorMessage"} {
			if strings.EqualFold(key, name) {
				seen[name]++
				if key != name {
					seen[name] += 2
				}
			}
		}
	}
	return seen["errorType"] == 1 && seen["errorMessage"] == 1
}
