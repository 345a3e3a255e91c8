SELECT function_name, groupUniqArray(attributes.value[indexOf(attributes.key, 'faas.trigger')])
FROM lambdascope.spans
WHERE start_time >= toDateTime(?)
  AND start_time < toDateTime(?)
  AND start_unix_nano >= ?
  AND start_unix_nano < ?
  AND function_name != ''
  AND has(attributes.key, 'faas.trigger')
GROUP BY function_name
ORDER BY function_name
