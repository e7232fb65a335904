-- conversation_next_seq() with a path of its own for one message. The set-based statement of 0022
-- (two CTEs and a join back to the input) costs more than the row it upserts when the arrays hold
-- one element, as in every message_ingest() call: the end-to-end bench measured [L]'s build at
-- 4–10 % more CPU per message than the one before it, and this path brought it level
-- (BENCHMARKS.md, "[L] before and after"; a single statement whose RETURNING finds each row's
-- element did not). The two statements upsert the same row the same way and lock in the same
-- order; a test runs both (tests/api/ingest.rs).
--
-- The current definition, with its contract, is sql/functions/conversation_next_seq.sql.

CREATE OR REPLACE FUNCTION public.conversation_next_seq(p_tenant uuid, p_channel text[], p_external_id text[], p_new_bot_user uuid[])
 RETURNS TABLE(item integer, bot_user_id uuid, seq bigint, created boolean)
 LANGUAGE plpgsql
AS $function$
#variable_conflict use_column
BEGIN
    -- One message (every message_ingest() call): the upsert without the set-based statement's
    -- CTEs and join, which cost more than the row (BENCHMARKS.md, "[L] before and after").
    -- The same upsert as below, row for row.
    IF cardinality(p_channel) = 1 THEN
        item := 1;
        INSERT INTO bot_users AS b (id, tenant_id, channel, external_id, last_seq)
        VALUES (p_new_bot_user[1], p_tenant, p_channel[1], p_external_id[1], 1)
        ON CONFLICT (tenant_id, channel, external_id)
        -- a customer who writes again has unblocked the bot
        DO UPDATE SET last_seq = b.last_seq + 1, updated_at = now(), blocked_at = NULL
        RETURNING b.id, b.last_seq, b.xmax = 0 INTO bot_user_id, seq, created;
        RETURN NEXT;
        RETURN;
    END IF;
    RETURN QUERY
    WITH u AS (SELECT i, p_channel[i] AS channel, p_external_id[i] AS external_id,
                      p_new_bot_user[i] AS new_id
                 FROM generate_subscripts(p_channel, 1) AS i),
         c AS (INSERT INTO bot_users AS b (id, tenant_id, channel, external_id, last_seq)
               SELECT u.new_id, p_tenant, u.channel, u.external_id, 1
                 FROM u ORDER BY u.channel, u.external_id
               ON CONFLICT (tenant_id, channel, external_id)
               -- a customer who writes again has unblocked the bot
               DO UPDATE SET last_seq = b.last_seq + 1, updated_at = now(), blocked_at = NULL
               RETURNING b.id, b.channel, b.external_id, b.last_seq, b.xmax = 0 AS created)
    SELECT u.i, c.id, c.last_seq, c.created
      FROM c JOIN u ON u.channel = c.channel AND u.external_id = c.external_id;
END
$function$;
