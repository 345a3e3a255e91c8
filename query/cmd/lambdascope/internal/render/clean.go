package render

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Clean returns s with every character that could steer a terminal shown
// escaped as Go writes it ("\x1b", "\u202e"): the C0 and C1 control
// characters (escape, bell, backspace, carriage return, line breaks and
// tabs among them), DEL, and Unicode's bidirectional embeddings,
// overrides and isolates. What the CLI prints comes from spans, records
// and attributes that anyone holding an API key may have sent; cleaned,
// such a value cannot move the cursor, recolor, retitle or clear the
// terminal of whoever reads it, nor make one line look like several or
// reorder what is shown. A string without such characters is returned as
// it is; invalid UTF-8 is left to the terminal, which shows it as a
// replacement character.
func Clean(s string) string {
	i := strings.IndexFunc(s, steers)
	if i < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	b.WriteString(s[:i])
	for _, r := range s[i:] {
		if !steers(r) {
			b.WriteRune(r)
			continue
		}
		if r < 0x80 {
			fmt.Fprintf(&b, `\x%02x`, r)
		} else {
			fmt.Fprintf(&b, `\u%04x`, r)
		}
	}
	return b.String()
}

// CleanLines is Clean applied to each line of s, keeping its line breaks:
// for messages made of several lines, such as errors.
func CleanLines(s string) string {
	if strings.IndexFunc(s, steers) < 0 {
		return s
	}
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = Clean(l)
	}
	return strings.Join(lines, "\n")
}

// steers reports whether r is a character Clean escapes.
func steers(r rune) bool {
	switch {
	case r < 0x20, r == 0x7f:
		return true
	case r >= 0x80 && r < 0xa0: // C1 controls, CSI (0x9b) among them
		return true
	case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069, r == 0x200e, r == 0x200f, r == 0x061c:
		return true
	case r == utf8.RuneError:
		return false
	}
	return false
}
