package render

import (
	"bytes"
	"testing"
)

func TestTable(t *testing.T) {
	tab := &Table{Headers: []string{"FUNCTION", "GB SECONDS"}, Empty: "Nothing."}
	tab.Add("orders", "1.5")
	tab.Add("has\ttab, comma", "2")
	tests := []struct {
		name  string
		write func(*bytes.Buffer) error
		want  string
	}{
		{"aligned", func(b *bytes.Buffer) error { return tab.Write(b) },
			"FUNCTION        GB SECONDS\norders          1.5\nhas tab, comma  2\n"},
		{"csv", func(b *bytes.Buffer) error { return tab.WriteCSV(b) },
			"function,gb_seconds\norders,1.5\n\"has\ttab, comma\",2\n"},
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
