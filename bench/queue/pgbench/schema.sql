-- The raw-SQL ceiling's table: the least a queue row can be (ceiling.sh recreates it before each run).
DROP TABLE IF EXISTS ceiling_jobs;
CREATE TABLE ceiling_jobs (
    id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    payload jsonb NOT NULL,
    run_at  timestamptz NOT NULL DEFAULT now()
);
