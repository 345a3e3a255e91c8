package render

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"unicode/utf8"
)

// Table is rows of text under headers, printed aligned for people or as
// CSV for scripts.
type Table struct {
	Headers []string
	Rows    [][]string
	// Empty is printed instead of an aligned table without rows.
	Empty string
}

// The widest cells Write prints, in characters; longer ones are cut and end
// with "…". Every row is padded to the widest cell of each column, so one
// huge value (a span name of megabytes) would otherwise make every row that
// wide. The last column is not padded and may be longer. CSV and JSON
// print values whole.
const (
	MaxCellChars     = 200
	MaxLastCellChars = 4096
)

// Add appends one row.
func (t *Table) Add(cells ...string) { t.Rows = append(t.Rows, cells) }

// Write prints the table aligned in columns.
func (t *Table) Write(w io.Writer) error {
	if len(t.Rows) == 0 && t.Empty != "" {
		_, err := io.WriteString(w, t.Empty+"\n")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(t.Headers, "\t"))
	for _, r := range t.Rows {
		cells := make([]string, len(r))
		for i, c := range r {
			limit := MaxCellChars
			if i == len(r)-1 {
				limit = MaxLastCellChars
			}
			cells[i] = Clean(cellReplacer.Replace(cutCell(c, limit)))
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write table: %w", err)
	}
	return nil
}

var cellReplacer = strings.NewReplacer("\t", " ", "\n", " ")

// cutCell returns at most limit characters of s, the last one "…" when s
// was longer.
func cutCell(s string, limit int) string {
	if len(s) <= limit {
		return s // no more bytes than characters allowed
	}
	n := 0
	for i := range s {
		if n == limit-1 {
			if utf8.RuneCountInString(s[i:]) > 1 {
				return s[:i] + "…"
			}
			return s
		}
		n++
	}
	return s
}

// WriteCSV prints the table as CSV with a header line. Values are written
// whole for scripts; with clean set (the output is a terminal) each cell is
// Clean'ed first, so a stored value cannot steer the terminal it is printed
// on.
func (t *Table) WriteCSV(w io.Writer, clean bool) error {
	cw := csv.NewWriter(w)
	header := make([]string, len(t.Headers))
	for i, h := range t.Headers {
		header[i] = strings.ToLower(strings.ReplaceAll(h, " ", "_"))
	}
	if err := cw.Write(header); err != nil {
		return fmt.Errorf("write csv: %w", err)
	}
	rows := t.Rows
	if clean {
		rows = make([][]string, len(t.Rows))
		for i, r := range t.Rows {
			rows[i] = make([]string, len(r))
			for j, c := range r {
				rows[i][j] = Clean(c)
			}
		}
	}
	if err := cw.WriteAll(rows); err != nil {
		return fmt.Errorf("write csv: %w", err)
	}
	return nil
}

// JSON prints v as indented JSON.
func JSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("encode json: %w", err)
	}
	return nil
}

// Money prints an amount with enough digits for fractions of a cent.
func Money(v float64, currency string) string {
	if currency == "" {
		currency = "USD"
	}
	switch {
	case v == 0:
		return "0 " + currency
	case v < 0.01 && v > -0.01:
		return fmt.Sprintf("%.8f %s", v, currency)
	default:
		return fmt.Sprintf("%.2f %s", v, currency)
	}
}

// Percent prints a fraction as a percentage.
func Percent(f float64) string { return fmt.Sprintf("%.1f%%", 100*f) }

// Float prints v with up to three decimals, trailing zeros trimmed.
func Float(v float64) string {
	s := strconv.FormatFloat(v, 'f', 3, 64)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}
