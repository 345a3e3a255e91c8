SELECT trace_key, hour
FROM lambdascope.trace_hours
WHERE trace_key IN (unhex(?), unhex(?))
  AND hour >= toDateTime(?)
  AND hour < toDateTime(?)
