SELECT trace_id, any(attributes.value[indexOf(attributes.key, 'aws.lambda.durable.execution.arn')]), any(account_id), any(region), any(function_name),
    count(), countIf(attributes.value[indexOf(attributes.key, 'aws.lambda.durable.replay')] = 'true'),
    max(toUInt64OrZero(attributes.value[indexOf(attributes.key, 'aws.lambda.durable.operations')])),
    min(start_unix_nano), max(start_unix_nano + duration_ns)
FROM lambdascope.spans
WHERE start_time >= toDateTime(?)
  AND start_time < toDateTime(?)
  AND start_unix_nano >= ?
  AND start_unix_nano < ?
  AND has(attributes.key, ?)
  AND function_name = ?
GROUP BY trace_id
ORDER BY max(start_unix_nano) DESC, trace_id
LIMIT ?
