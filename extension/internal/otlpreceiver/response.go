package otlpreceiver

import (
	"strconv"

	"google.golang.org/protobuf/encoding/protowire"
)

// exportResponse is the Export*ServiceResponse of any signal. The three
// have one shape: an optional partial_success (field 1) holding the count
// of rejected items (field 1, int64) and an error_message (field 2); only
// the JSON name of the count differs.
type exportResponse struct {
	signal   signal
	rejected int
}

// rejectedMessage is the partial success's error message.
const rejectedMessage = "extension buffer full"

// appendProto appends the response's protobuf encoding to b.
func (r *exportResponse) appendProto(b []byte) []byte {
	if r.rejected <= 0 {
		return b
	}
	var ps []byte
	ps = protowire.AppendTag(ps, 1, protowire.VarintType)
	ps = protowire.AppendVarint(ps, uint64(r.rejected))
	ps = protowire.AppendTag(ps, 2, protowire.BytesType)
	ps = protowire.AppendString(ps, rejectedMessage)
	b = protowire.AppendTag(b, 1, protowire.BytesType)
	return protowire.AppendBytes(b, ps)
}

// appendJSON appends the response's OTLP/JSON encoding to b (int64 as a
// string, as protojson writes it).
func (r *exportResponse) appendJSON(b []byte) []byte {
	if r.rejected <= 0 {
		return append(b, "{}"...)
	}
	b = append(b, `{"partialSuccess":{"`...)
	b = append(b, r.signal.rejectedJSON()...)
	b = append(b, `":"`...)
	b = strconv.AppendInt(b, int64(r.rejected), 10)
	b = append(b, `","errorMessage":`...)
	b = strconv.AppendQuote(b, rejectedMessage)
	return append(b, "}}"...)
}

// encode encodes the response in the request's encoding.
func (r *exportResponse) encode(enc Encoding) []byte {
	if enc == EncodingJSON {
		return r.appendJSON(nil)
	}
	return r.appendProto(nil)
}
