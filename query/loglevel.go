package query

import (
	"encoding/json"
	"strings"
)

// levelKeys are the fields of a JSON log line that name its level, in the
// order the extension reads them.
var levelKeys = []string{"level", "severity", "levelname", "log.level"}

// bodyLevel is the level a record's body gives when the record itself has
// none: the level field of a JSON line, or for a Lambda platform event
// (type platform.*) ERROR when its status is a failure, WARN when logs
// were dropped and INFO otherwise. It is empty when the body names no
// level.
func bodyLevel(body string) string {
	body = strings.TrimSpace(body)
	if !strings.HasPrefix(body, "{") {
		return ""
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(body), &doc); err != nil {
		return ""
	}
	if typ, _ := doc["type"].(string); strings.HasPrefix(typ, "platform.") {
		if typ == "platform.logsDropped" {
			return "WARN"
		}
		record, _ := doc["record"].(map[string]any)
		switch status, _ := record["status"].(string); status {
		case "error", "failure", "timeout":
			return "ERROR"
		}
		return "INFO"
	}
	for _, k := range levelKeys {
		if v, ok := doc[k].(string); ok && strings.TrimSpace(v) != "" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}
