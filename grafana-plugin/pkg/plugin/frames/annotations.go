package frames

import (
	"strings"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/data"
)

// Annotation is one event or period marked on Grafana's time series.
type Annotation struct {
	Time, TimeEnd time.Time
	Title, Text   string
	Tags          []string
}

// Annotations is a frame with the fields Grafana reads annotations from:
// time, timeEnd (equal to time for an event), title, text and tags
// (comma separated).
func Annotations(as []Annotation) *data.Frame {
	n := len(as)
	var (
		times, ends   = make([]time.Time, 0, n), make([]time.Time, 0, n)
		titles, texts = make([]string, 0, n), make([]string, 0, n)
		tags          = make([]string, 0, n)
	)
	for _, a := range as {
		end := a.TimeEnd
		if end.IsZero() {
			end = a.Time
		}
		times, ends = append(times, a.Time.UTC()), append(ends, end.UTC())
		titles, texts = append(titles, a.Title), append(texts, a.Text)
		tags = append(tags, strings.Join(a.Tags, ","))
	}
	f := data.NewFrame("annotations",
		data.NewField("time", nil, times),
		data.NewField("timeEnd", nil, ends),
		data.NewField("title", nil, titles),
		data.NewField("text", nil, texts),
		data.NewField("tags", nil, tags),
	)
	f.Meta = &data.FrameMeta{Type: data.FrameTypeTable}
	return f
}
