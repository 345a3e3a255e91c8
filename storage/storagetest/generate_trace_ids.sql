-- The trace IDs of the generated traces numbered in the bound array, as
-- generate_spans.sql computes them.
SELECT toFixedString(concat(reinterpretAsString(bitOr(cityHash64(t, 5), 9223372036854775808)),
    reinterpretAsString(bitOr(cityHash64(t, 6), 9223372036854775808))), 16)
FROM (SELECT arrayJoin(?) AS t)
