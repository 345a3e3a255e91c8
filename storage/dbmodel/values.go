package dbmodel

import (
	"encoding/base64"
	"encoding/json"
	"math"
	"strconv"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
)

// AttributeValue renders an OTLP value as stored in a value column: strings
// as they are, integers, doubles and booleans as text, bytes as standard
// base64, arrays and key-value lists as JSON. An empty value is "".
func AttributeValue(v *commonpb.AnyValue) string {
	switch x := v.GetValue().(type) {
	case *commonpb.AnyValue_StringValue:
		return x.StringValue
	case *commonpb.AnyValue_BoolValue:
		return strconv.FormatBool(x.BoolValue)
	case *commonpb.AnyValue_IntValue:
		return strconv.FormatInt(x.IntValue, 10)
	case *commonpb.AnyValue_DoubleValue:
		return strconv.FormatFloat(x.DoubleValue, 'g', -1, 64)
	case *commonpb.AnyValue_BytesValue:
		return base64.StdEncoding.EncodeToString(x.BytesValue)
	case *commonpb.AnyValue_ArrayValue, *commonpb.AnyValue_KvlistValue:
		b, err := json.Marshal(jsonValue(v))
		if err != nil {
			return ""
		}
		return string(b)
	default:
		return ""
	}
}

// jsonValue turns an OTLP value into something encoding/json renders
// naturally. Doubles JSON cannot hold (NaN, ±Inf) become strings.
func jsonValue(v *commonpb.AnyValue) any {
	switch x := v.GetValue().(type) {
	case *commonpb.AnyValue_StringValue:
		return x.StringValue
	case *commonpb.AnyValue_BoolValue:
		return x.BoolValue
	case *commonpb.AnyValue_IntValue:
		return x.IntValue
	case *commonpb.AnyValue_DoubleValue:
		if math.IsNaN(x.DoubleValue) || math.IsInf(x.DoubleValue, 0) {
			return strconv.FormatFloat(x.DoubleValue, 'g', -1, 64)
		}
		return x.DoubleValue
	case *commonpb.AnyValue_BytesValue:
		return base64.StdEncoding.EncodeToString(x.BytesValue)
	case *commonpb.AnyValue_ArrayValue:
		out := make([]any, 0, len(x.ArrayValue.GetValues()))
		for _, e := range x.ArrayValue.GetValues() {
			out = append(out, jsonValue(e))
		}
		return out
	case *commonpb.AnyValue_KvlistValue:
		out := make(map[string]any, len(x.KvlistValue.GetValues()))
		for _, kv := range x.KvlistValue.GetValues() {
			out[kv.GetKey()] = jsonValue(kv.GetValue())
		}
		return out
	default:
		return nil
	}
}

// keyValues renders an OTLP attribute list.
func keyValues(attrs []*commonpb.KeyValue) KeyValues {
	kv := KeyValues{Keys: make([]string, 0, len(attrs)), Values: make([]string, 0, len(attrs))}
	for _, a := range attrs {
		kv.Keys = append(kv.Keys, a.GetKey())
		kv.Values = append(kv.Values, AttributeValue(a.GetValue()))
	}
	return kv
}

// attributesJSON renders an OTLP attribute list as a JSON object of
// rendered values, the form events and links keep their attributes in.
// An empty list is "{}".
func attributesJSON(attrs []*commonpb.KeyValue) string {
	m := make(map[string]string, len(attrs))
	for _, a := range attrs {
		m[a.GetKey()] = AttributeValue(a.GetValue())
	}
	b, err := json.Marshal(m)
	if err != nil {
		return "{}"
	}
	return string(b)
}

// ParseAttributesJSON reads an event or link attribute column back.
// Malformed text yields an empty map.
func ParseAttributesJSON(s string) map[string]string {
	m := map[string]string{}
	if s == "" {
		return m
	}
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		return map[string]string{}
	}
	return m
}
