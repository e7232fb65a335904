-- conversation_next_seq: the seqs of customers' messages, and the conversations they open. Upserts
-- the conversations (`bot_users` by tenant, channel, external id) of one tenant, one per element
-- of the arrays (distinct (channel, external id) pairs: a statement cannot touch a row twice): a
-- new one gets the id `p_new_bot_user[i]` and seq 1; an existing one gets `last_seq + 1`,
-- `updated_at = now()` and `blocked_at` cleared (a customer who writes again has unblocked the
-- bot). Rows are upserted in (channel, external id) order, the first of ingest's lock order
-- (turn_commit() and the handoff transitions take the same row first too); the locks last until
-- the caller commits, so concurrent messages of one conversation get gap-free seqs in commit order.
-- Returns one row per element: `item` (its 1-based index), the conversation's id, the seq and
-- whether the row was created (a duplicate then gives the seq back: conversation_give_back_seq()).
-- Needs the tenant scope set (RLS). Called by message_ingest() (one element) and
-- message_ingest_batch() (a tenant's share of a batch); not from Rust. A message that is not a
-- customer's gets its seq from message_append(). One element takes a statement of its own, the
-- same upsert without the set-based one's CTEs and join, which cost more than the row (measured:
-- migrations/0025_next_seq_one_message.sql); tests/api/ingest.rs holds the two to the same result.
-- Current definition: migrations/0025_next_seq_one_message.sql.
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
$function$

