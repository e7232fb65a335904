-- conversation_next_seq: the first half of a customer message's ingest. Upserts the conversation
-- (`bot_users` by tenant, channel, external id): a new one gets the id `p_new_bot_user` and seq 1;
-- an existing one gets `last_seq + 1`, `updated_at = now()` and `blocked_at` cleared (a customer
-- who writes again has unblocked the bot). Returns the conversation's id, the seq it allocated and
-- whether the row was created (so that a duplicate can remove it again, see message_record()).
-- Locks the conversation's row until the caller commits: concurrent messages of one conversation
-- get gap-free seqs in commit order, and the rest of the ingest (the idempotency check, the jobs)
-- runs under this lock, the first of ingest's lock order (turn_commit() and the handoff
-- transitions take the same row first too).
-- Called only by message_ingest(), in its transaction and after it set the tenant scope (RLS on
-- bot_users); not from Rust. message_ingest_batch() (0018) does the same upsert set-based: keep
-- the two in step.
-- Current definition: migrations/0017_message_ingest_batch.sql.
CREATE OR REPLACE FUNCTION public.conversation_next_seq(p_tenant uuid, p_channel text, p_external_id text, p_new_bot_user uuid, OUT bot_user_id uuid, OUT seq bigint, OUT created boolean)
 RETURNS record
 LANGUAGE plpgsql
AS $function$
#variable_conflict use_column
BEGIN
    INSERT INTO bot_users AS b (id, tenant_id, channel, external_id, last_seq)
    VALUES (p_new_bot_user, p_tenant, p_channel, p_external_id, 1)
    ON CONFLICT (tenant_id, channel, external_id)
    -- a customer who writes again has unblocked the bot
    DO UPDATE SET last_seq = b.last_seq + 1, updated_at = now(), blocked_at = NULL
    RETURNING b.id, b.last_seq, b.xmax = 0 INTO bot_user_id, seq, created;
END
$function$

