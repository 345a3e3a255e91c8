package render

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestTable(t *testing.T) {
	tab := &Table{Headers: []string{"FUNCTION", "GB SECONDS"}, Empty: "Nothing."}
	tab.Add("orders", "1.5")
	tab.Add("has\ttab, comma", "2")
	tab.Add("steers\x1b[2J", "3")
	tests := []struct {
		name  string
		write func(*bytes.Buffer) error
		want  string
	}{
		{"aligned", func(b *bytes.Buffer) error { return tab.Write(b) },
			"FUNCTION        GB SECONDS\norders          1.5\nhas tab, comma  2\nsteers\\x1b[2J   3\n"},
		{"csv to a file, values whole", func(b *bytes.Buffer) error { return tab.WriteCSV(b, false) },
			"function,gb_seconds\norders,1.5\n\"has\ttab, comma\",2\nsteers\x1b[2J,3\n"},
		{"csv to a terminal, controls escaped", func(b *bytes.Buffer) error { return tab.WriteCSV(b, true) },
			"function,gb_seconds\norders,1.5\n\"has\\x09tab, comma\",2\nsteers\\x1b[2J,3\n"},
		{"empty", func(b *bytes.Buffer) error { return (&Table{Headers: []string{"A"}, Empty: "Nothing."}).Write(b) }, "Nothing.\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := tt.write(&b); err != nil {
				t.Fatal(err)
			}
			if b.String() != tt.want {
				t.Errorf("got\n%q\nwant\n%q", b.String(), tt.want)
			}
		})
	}
}

// TestTableCutsWideCells: one huge value does not make every row as wide.
func TestTableCutsWideCells(t *testing.T) {
	tab := &Table{Headers: []string{"NAME", "N", "MESSAGE"}}
	tab.Add(strings.Repeat("é", 5<<20), "1", strings.Repeat("m", 1<<20))
	for range 1000 {
		tab.Add("short", "2", "ok")
	}
	var b bytes.Buffer
	if err := tab.Write(&b); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	if len(lines) != 1002 {
		t.Fatalf("%d lines, want 1002", len(lines))
	}
	if n := utf8.RuneCountInString(lines[1]); n > MaxCellChars+2+1+2+MaxLastCellChars {
		t.Errorf("the wide row is %d characters", n)
	}
	if !strings.HasPrefix(lines[1], strings.Repeat("é", MaxCellChars-1)+"…  ") || !strings.HasSuffix(lines[1], "m…") {
		t.Errorf("wide cells not cut and marked: %q...%q", lines[1][:40], lines[1][len(lines[1])-10:])
	}
	if n := len(lines[2]); n > MaxCellChars+10 {
		t.Errorf("a short row is padded to %d bytes", n)
	}
	for _, tt := range []struct {
		s     string
		limit int
		want  string
	}{
		{"abc", 3, "abc"}, {"abcd", 3, "ab…"}, {"ééé", 3, "ééé"}, {"éééé", 3, "éé…"},
	} {
		if got := cutCell(tt.s, tt.limit); got != tt.want {
			t.Errorf("cutCell(%q, %d) = %q, want %q", tt.s, tt.limit, got, tt.want)
		}
	}
}

func TestMoneyAndFloat(t *testing.T) {
	tests := []struct{ got, want string }{
		{Money(7.800036, "USD"), "7.80 USD"},
		{Money(0.0000021, ""), "0.00000210 USD"},
		{Money(0, "EUR"), "0 EUR"},
		{Float(1234.5), "1234.5"},
		{Float(0.1066), "0.107"},
		{Percent(0.25), "25.0%"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}
