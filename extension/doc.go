// Package extension holds the Lambdascope Lambda extension: the launcher in
// cmd/lambdascope-launcher that Lambda starts from /opt/extensions, the
// agent in cmd/lambdascope-extension that the launcher becomes, and their
// private parts under internal/. It imports only the standard library, the
// repository's proto packages, gRPC, protobuf and the OTLP messages, so it
// stays small and starts fast.
package extension

// LauncherPath is where the launcher sits inside the layer (and so, under
// /opt, where Lambda starts it): every file in /opt/extensions is started
// as an extension named after the file.
const LauncherPath = "extensions/lambdascope"

// AgentPath is where the agent sits inside the layer: outside extensions/,
// so that Lambda does not start it as an extension of its own. The
// launcher finds it at ../lambdascope/lambdascope-extension from itself.
const AgentPath = "lambdascope/lambdascope-extension"

// HostsFileEnv names a hosts file the launcher reads in place of
// /etc/hosts. Lambda never sets it. Benchmarks and tests do, to give the
// launcher the hosts file of a Lambda environment, which names
// sandbox.localdomain, on a machine whose own does not.
const HostsFileEnv = "_LAMBDASCOPE_HOSTS_FILE"
