-- (b) one job per transaction: take the oldest unlocked job and delete it
DELETE FROM ceiling_jobs
WHERE id = (SELECT id FROM ceiling_jobs ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)
RETURNING id, payload;
