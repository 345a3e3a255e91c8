SELECT hour, function_name, signal, stage, sum(items) AS items
FROM lambdascope.ingest_losses
WHERE hour >= toDateTime(?)
  AND hour < toDateTime(?)
  AND function_name = ?
GROUP BY hour, function_name, signal, stage
