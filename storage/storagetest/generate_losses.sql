-- Spans the collector left out: a batch of 3 over its item limit for one
-- report in 200,000, in the hour of that report's function.
INSERT INTO {{.DB}}.ingest_losses (hour, function_name, signal, stage, reason, items)
SELECT toStartOfHour(start_time), function_name, 'spans', 'collector', 'item_limit', 3
FROM {{.DB}}.invocations
WHERE cityHash64(request_id, 26) % 200000 = 0
