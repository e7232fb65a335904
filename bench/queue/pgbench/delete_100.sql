-- (c) 100 jobs per statement (one transaction): take the 100 oldest unlocked jobs and delete them
DELETE FROM ceiling_jobs
WHERE id = ANY (ARRAY(SELECT id FROM ceiling_jobs ORDER BY id LIMIT 100 FOR UPDATE SKIP LOCKED))
RETURNING id, payload;
