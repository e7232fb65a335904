-- Prefill for the delete runs: psql -v rows=N -f prefill.sql
INSERT INTO ceiling_jobs (payload) SELECT jsonb_build_object('n', g) FROM generate_series(1, :rows) AS g;
