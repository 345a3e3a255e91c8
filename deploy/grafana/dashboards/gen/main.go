// Command gen writes the Grafana dashboards that package build builds:
//
//	go run ./deploy/grafana/dashboards/gen -dir deploy/grafana/dashboards
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/lambdascope/lambdascope/deploy/grafana/dashboards/build"
)

func main() {
	dir := flag.String("dir", ".", "directory to write the dashboards' JSON into")
	flag.Parse()
	if err := build.Write(*dir); err != nil {
		fmt.Fprintln(os.Stderr, "dashboards:", err)
		os.Exit(1)
	}
}
