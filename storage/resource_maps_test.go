package storage

import (
	"maps"
	"reflect"
	"testing"

	"github.com/lambdascope/lambdascope/storage/dbmodel"
)

// TestResourceMapsShared holds the trace read to handing spans of one
// resource one map, and spans of another resource their own, with the
// resource's attributes in it.
func TestResourceMapsShared(t *testing.T) {
	kv := func(pairs ...string) dbmodel.KeyValues {
		var out dbmodel.KeyValues
		for i := 0; i+1 < len(pairs); i += 2 {
			out.Keys, out.Values = append(out.Keys, pairs[i]), append(out.Values, pairs[i+1])
		}
		return out
	}
	ptr := func(m map[string]string) uintptr { return reflect.ValueOf(m).Pointer() }
	var c resourceMaps
	orders := c.share(kv("service.name", "orders", "cloud.region", "eu-west-1"))
	inventory := c.share(kv("service.name", "inventory", "cloud.region", "eu-west-1"))
	ordersAgain := c.share(kv("service.name", "orders", "cloud.region", "eu-west-1"))
	if ptr(orders) != ptr(ordersAgain) {
		t.Error("two spans of the same resource got two maps")
	}
	if ptr(orders) == ptr(inventory) {
		t.Error("spans of two resources share a map")
	}
	if want := map[string]string{"service.name": "orders", "cloud.region": "eu-west-1"}; !maps.Equal(ordersAgain, want) {
		t.Errorf("shared map %v, want %v", ordersAgain, want)
	}
	// More resources than are kept: each is still read right.
	for _, name := range []string{"a", "b", "c", "d", "e"} {
		if got := c.share(kv("service.name", name)); got["service.name"] != name {
			t.Errorf("resource %s read as %v", name, got)
		}
	}
	if got := c.share(kv("service.name", "orders", "cloud.region", "eu-west-1")); !maps.Equal(got, orders) {
		t.Errorf("orders after eviction read as %v", got)
	}
}
