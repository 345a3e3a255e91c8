SELECT minMerge(start_min), maxMerge(end_max)
FROM lambdascope.trace_index
WHERE trace_id = unhex(?)
GROUP BY trace_id
