package frames

import (
	"strings"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/lambdascope/lambdascope/query"
)

// Catalog is a table of the functions seen, with what calls them and what
// they call.
func Catalog(fns []query.FunctionInfo) *data.Frame {
	n := len(fns)
	var (
		names, accounts, regions, services = make([]string, 0, n), make([]string, 0, n), make([]string, 0, n), make([]string, 0, n)
		runtimes, arches, versions         = make([]string, 0, n), make([]string, 0, n), make([]string, 0, n)
		memory, invocations, errs          = make([]float64, 0, n), make([]int64, 0, n), make([]int64, 0, n)
		first, last                        = make([]time.Time, 0, n), make([]time.Time, 0, n)
		calledBy, calls                    = make([]string, 0, n), make([]string, 0, n)
	)
	for i := range fns {
		f := &fns[i]
		names = append(names, f.FunctionName)
		accounts = append(accounts, f.AccountID)
		regions = append(regions, f.Region)
		services = append(services, f.ServiceName)
		runtimes = append(runtimes, f.Runtime)
		arches = append(arches, f.Architecture)
		versions = append(versions, strings.Join(f.Versions, ", "))
		memory = append(memory, float64(f.MemorySizeMB))
		invocations = append(invocations, int64(f.Invocations))
		errs = append(errs, int64(f.Errors))
		first = append(first, f.FirstSeen.UTC())
		last = append(last, f.LastSeen.UTC())
		calledBy = append(calledBy, strings.Join(f.CalledBy, ", "))
		calls = append(calls, strings.Join(f.Calls, ", "))
	}
	f := data.NewFrame("functions",
		data.NewField("function", nil, names),
		data.NewField("accountId", nil, accounts),
		data.NewField("region", nil, regions),
		data.NewField("service", nil, services),
		data.NewField("runtime", nil, runtimes),
		data.NewField("architecture", nil, arches),
		data.NewField("versions", nil, versions),
		data.NewField("memorySize", nil, memory).SetConfig(&data.FieldConfig{Unit: "decmbytes"}),
		data.NewField("invocations", nil, invocations),
		data.NewField("errors", nil, errs),
		data.NewField("firstSeen", nil, first),
		data.NewField("lastSeen", nil, last),
		data.NewField("calledBy", nil, calledBy),
		data.NewField("calls", nil, calls),
	)
	f.Meta = &data.FrameMeta{Type: data.FrameTypeTable, PreferredVisualization: data.VisTypeTable}
	return f
}
