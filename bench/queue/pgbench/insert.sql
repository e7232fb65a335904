-- (a) one job per transaction: INSERT
\set n random(1, 1000000000)
INSERT INTO ceiling_jobs (payload) VALUES (jsonb_build_object('n', :n::bigint));
