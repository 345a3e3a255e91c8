package query_test

import "github.com/lambdascope/lambdascope/storage"

type storageProfile struct {
	fn            string
	mem, used     uint32
	inv, billedMs uint64
}

func toRecords(ps []storageProfile) []storage.MemoryProfileRecord {
	out := make([]storage.MemoryProfileRecord, len(ps))
	for i, p := range ps {
		out[i] = storage.MemoryProfileRecord{AccountID: "111122223333", Region: "us-east-1", FunctionName: p.fn,
			Architecture: "x86_64", MemorySizeMB: p.mem, MaxMemoryUsedMB: p.used, Invocations: p.inv, BilledDurationMs: p.billedMs}
	}
	return out
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}
