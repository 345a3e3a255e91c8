SELECT table, sum(rows) FROM system.parts WHERE database = ? AND active AND table IN ? GROUP BY table
