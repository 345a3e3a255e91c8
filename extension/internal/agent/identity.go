package agent

import (
	"runtime"
	"strconv"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"

	"github.com/lambdascope/lambdascope/extension/internal/config"
	"github.com/lambdascope/lambdascope/extension/internal/extapi"
	"github.com/lambdascope/lambdascope/proto/ingestv1"
)

// Architecture maps a Go architecture to Lambda's name for it.
func Architecture(goarch string) string {
	switch goarch {
	case "amd64":
		return "x86_64"
	case "arm64":
		return "arm64"
	}
	return goarch
}

// Identity builds the function's identity from the Lambda environment
// variables, the registration answer and the configuration.
func Identity(env func(string) (string, bool), reg extapi.Registration, cfg config.Config, version string) *ingestv1.FunctionIdentity {
	get := func(k string) string {
		v, _ := env(k)
		return v
	}
	id := &ingestv1.FunctionIdentity{
		AccountId:          reg.AccountID,
		Region:             get("AWS_REGION"),
		Name:               get("AWS_LAMBDA_FUNCTION_NAME"),
		Version:            get("AWS_LAMBDA_FUNCTION_VERSION"),
		Architecture:       Architecture(runtime.GOARCH),
		Runtime:            get("AWS_EXECUTION_ENV"),
		LogGroup:           get("AWS_LAMBDA_LOG_GROUP_NAME"),
		LogStream:          get("AWS_LAMBDA_LOG_STREAM_NAME"),
		InitializationType: get("AWS_LAMBDA_INITIALIZATION_TYPE"),
		ServiceName:        cfg.ServiceName,
		ExtensionVersion:   version,
	}
	if id.Region == "" {
		id.Region = get("AWS_DEFAULT_REGION")
	}
	if id.Name == "" {
		id.Name = reg.FunctionName
	}
	if id.Version == "" {
		id.Version = reg.FunctionVersion
	}
	if n, err := strconv.ParseUint(get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE"), 10, 32); err == nil {
		id.MemoryMb = uint32(n)
	}
	if id.ServiceName == "" {
		id.ServiceName = id.Name
	}
	return id
}

// Resource is the OTLP resource of the log records the extension builds
// from the Telemetry API: OTEL_RESOURCE_ATTRIBUTES plus the function's
// identity in OpenTelemetry's semantic conventions.
func Resource(id *ingestv1.FunctionIdentity, cfg config.Config) *resourcepb.Resource {
	res := &resourcepb.Resource{}
	seen := map[string]bool{}
	set := func(k string, v *commonpb.AnyValue) {
		if seen[k] {
			return
		}
		seen[k] = true
		res.Attributes = append(res.Attributes, &commonpb.KeyValue{Key: k, Value: v})
	}
	str := func(k, v string) {
		if v != "" {
			set(k, &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: v}})
		}
	}
	str("service.name", id.GetServiceName())
	for _, a := range cfg.ResourceAttributes {
		str(a.Key, a.Value)
	}
	str("cloud.provider", "aws")
	str("cloud.platform", "aws_lambda")
	str("cloud.region", id.GetRegion())
	str("cloud.account.id", id.GetAccountId())
	str("faas.name", id.GetName())
	str("faas.version", id.GetVersion())
	str("faas.instance", id.GetLogStream())
	if id.GetMemoryMb() > 0 {
		set("faas.max_memory", &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: int64(id.GetMemoryMb()) << 20}})
	}
	if g := id.GetLogGroup(); g != "" {
		set("aws.log.group.names", &commonpb.AnyValue{Value: &commonpb.AnyValue_ArrayValue{ArrayValue: &commonpb.ArrayValue{
			Values: []*commonpb.AnyValue{{Value: &commonpb.AnyValue_StringValue{StringValue: g}}},
		}}})
	}
	return res
}
