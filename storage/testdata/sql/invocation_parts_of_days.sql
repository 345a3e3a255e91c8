SELECT count()
FROM system.parts
WHERE database = ? AND table = 'invocations' AND active
  AND partition IN (?, ?)
