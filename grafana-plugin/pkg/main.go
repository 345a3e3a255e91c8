// Command gpx_lambdascope is the backend of Lambdascope's Grafana
// datasource; Grafana starts it and talks to it over the plugin gRPC
// protocol.
package main

import (
	"log/slog"
	"os"

	"github.com/grafana/grafana-plugin-sdk-go/backend/datasource"

	// Time zones for the default time zone setting, whatever the host has.
	_ "time/tzdata"

	"github.com/lambdascope/lambdascope/grafana-plugin/pkg/plugin"
)

func main() {
	// Grafana reads the plugin's stderr into its own log.
	slog.SetDefault(slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo})))
	if err := datasource.Manage(plugin.PluginID, plugin.NewDatasource, datasource.ManageOpts{}); err != nil {
		slog.Error("serve plugin", "error", err)
		os.Exit(1)
	}
}
