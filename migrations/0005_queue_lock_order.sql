-- Batch acks and heartbeats lock many job rows; two of them over overlapping ids (a pool's heartbeat
-- and its own ack, or a stale worker's ack) deadlocked when each locked in its own order (found by the
-- end-to-end benchmark). Every multi-row statement now locks job rows in id order first.

CREATE OR REPLACE FUNCTION queue_complete(p_ids bigint[], p_tokens uuid[]) RETURNS bigint[]
LANGUAGE plpgsql AS $$
DECLARE
    v_done bigint[];
    v_keys text[];
BEGIN
    PERFORM 1 FROM jobs WHERE id = ANY (p_ids) ORDER BY id FOR UPDATE;
    WITH d AS (
        DELETE FROM jobs j USING unnest(p_ids, p_tokens) AS a(id, token)
        WHERE j.id = a.id AND j.lease_token = a.token AND j.state = 'running'
        RETURNING j.id, j.key)
    SELECT array_agg(d.id), array_agg(d.key) FILTER (WHERE d.key IS NOT NULL)
    INTO v_done, v_keys FROM d;
    PERFORM queue_release_keys(v_keys);
    RETURN coalesce(v_done, '{}');
END $$;

CREATE OR REPLACE FUNCTION queue_bury(p_ids bigint[], p_tokens uuid[], p_errors text[]) RETURNS bigint[]
LANGUAGE plpgsql AS $$
DECLARE
    v_dead bigint[];
    v_keys text[];
BEGIN
    PERFORM 1 FROM jobs WHERE id = ANY (p_ids) ORDER BY id FOR UPDATE;
    WITH d AS (
        UPDATE jobs j SET state = 'dead', lease_token = NULL, lease_until = NULL,
                          last_error = a.error, run_at = now()
        FROM unnest(p_ids, p_tokens, p_errors) AS a(id, token, error)
        WHERE j.id = a.id AND j.lease_token = a.token AND j.state = 'running'
        RETURNING j.id, j.key)
    SELECT array_agg(d.id), array_agg(d.key) FILTER (WHERE d.key IS NOT NULL)
    INTO v_dead, v_keys FROM d;
    PERFORM queue_release_keys(v_keys);
    RETURN coalesce(v_dead, '{}');
END $$;
