-- message_ingest_batch: records a batch of chat text messages (group commit) in one statement and
-- one transaction, set-based: per tenant one conversation upsert, one idempotency lookup (only when
-- a message has a key) and one message insert, then one queue_enqueue_deduped() for all the turns.
-- Message i is the i-th element of every array, at most one per conversation (the caller's rule).
-- Each tenant's statements run under its scope (set_config('app.tenant_id', …, true)).
-- Lock order: every conversation row, by (tenant, channel, external id); then the turns'
-- `job_keys` rows in key order (the order the ack locks them in) and their pending twins.
-- A duplicate (an idempotency key naming an earlier message) gives its seq back, or removes the
-- conversation it just created, and stores nothing. With the tenant's burst coalescing the turn,
-- new or already pending, runs at the end of this message's quiet period.
-- Returns one row per message, not in input order: `item` (its 1-based index), the message id, bot
-- user and seq (the earlier message's for a duplicate), `duplicate`, and whether a new turn was
-- inserted. Called by `db::ingestor` (src/db/ingestor.rs) for batches of two or more; a batch
-- that fails is recorded one message at a time through message_ingest().
-- Current definition: migrations/0022_customer_seq.sql.
CREATE OR REPLACE FUNCTION public.message_ingest_batch(p_tenant uuid[], p_channel text[], p_external_id text[], p_new_bot_user uuid[], p_message uuid[], p_content text[], p_idempotency_key text[], p_shared_phone text[])
 RETURNS TABLE(item integer, message_id uuid, bot_user_id uuid, seq bigint, duplicate boolean, turn_job boolean)
 LANGUAGE plpgsql
 SET enable_seqscan TO 'off'
 SET enable_bitmapscan TO 'off'
 SET enable_hashjoin TO 'off'
 SET enable_mergejoin TO 'off'
AS $function$
#variable_conflict use_column
DECLARE
    v_count     integer := cardinality(p_tenant);
    v_tenants   uuid[] := ARRAY(SELECT DISTINCT t FROM unnest(p_tenant) AS t ORDER BY t);
    v_tenant    uuid;
    v_i         integer;
    v_row       record;
    v_bot_users uuid[] := array_fill(NULL::uuid, ARRAY[v_count]);
    v_seqs      bigint[] := array_fill(NULL::bigint, ARRAY[v_count]);
    v_created   boolean[] := array_fill(NULL::boolean, ARRAY[v_count]);
    v_run_ats   timestamptz[] := array_fill(NULL::timestamptz, ARRAY[v_count]);
    v_items     integer[];
    -- the items recorded (not duplicates), of every tenant
    v_recorded  integer[] := '{}';
    v_coalesce  integer;
    v_run_at    timestamptz;
    v_keys      text[];
    v_job_ids   bigint[];
    v_inserted  boolean[];
BEGIN
    -- 1. The conversations: each tenant's rows upserted in (channel, external id) order.
    FOREACH v_tenant IN ARRAY v_tenants LOOP
        PERFORM set_config('app.tenant_id', v_tenant::text, true);
        v_items := ARRAY(SELECT i FROM generate_subscripts(p_tenant, 1) AS i
                          WHERE p_tenant[i] = v_tenant ORDER BY i);
        FOR v_row IN
            SELECT v_items[c.item] AS i, c.bot_user_id, c.seq, c.created
              FROM conversation_next_seq(v_tenant,
                                         ARRAY(SELECT p_channel[i] FROM unnest(v_items) AS i),
                                         ARRAY(SELECT p_external_id[i] FROM unnest(v_items) AS i),
                                         ARRAY(SELECT p_new_bot_user[i] FROM unnest(v_items) AS i)) c
        LOOP
            v_bot_users[v_row.i] := v_row.bot_user_id;
            v_seqs[v_row.i] := v_row.seq;
            v_created[v_row.i] := v_row.created;
        END LOOP;
    END LOOP;

    -- 2. and 3. Duplicates and messages, per tenant.
    FOREACH v_tenant IN ARRAY v_tenants LOOP
        PERFORM set_config('app.tenant_id', v_tenant::text, true);
        v_items := ARRAY(SELECT i FROM generate_subscripts(p_tenant, 1) AS i
                          WHERE p_tenant[i] = v_tenant ORDER BY i);
        IF EXISTS (SELECT 1 FROM unnest(v_items) AS i WHERE p_idempotency_key[i] IS NOT NULL) THEN
            FOR v_row IN SELECT i, m.id, m.bot_user_id, m.seq
                           FROM unnest(v_items) AS i
                           JOIN messages m ON m.tenant_id = v_tenant
                                          AND m.idempotency_key = p_idempotency_key[i] LOOP
                PERFORM conversation_give_back_seq(v_tenant, v_bot_users[v_row.i],
                                                   v_created[v_row.i]);
                v_items := array_remove(v_items, v_row.i);
                RETURN QUERY SELECT v_row.i, v_row.id, v_row.bot_user_id, v_row.seq, true, false;
            END LOOP;
        END IF;
        CONTINUE WHEN cardinality(v_items) = 0;
        INSERT INTO messages (id, tenant_id, bot_user_id, seq, role, kind, content,
                              idempotency_key, status)
        SELECT p_message[i], v_tenant, v_bot_users[i], v_seqs[i], 'user', 'text', p_content[i],
               p_idempotency_key[i], 'queued'
          FROM unnest(v_items) AS i;
        IF EXISTS (SELECT 1 FROM unnest(v_items) AS i WHERE p_shared_phone[i] IS NOT NULL) THEN
            UPDATE bot_users b SET phone = p_shared_phone[i]
              FROM unnest(v_items) AS i
             WHERE p_shared_phone[i] IS NOT NULL AND b.tenant_id = v_tenant
               AND b.id = v_bot_users[i];
        END IF;
        SELECT t.coalesce_ms INTO v_coalesce FROM tenants t WHERE t.id = v_tenant;
        IF v_coalesce > 0 THEN
            -- burst coalescing: the turn waits for this message's quiet period
            v_run_at := now() + make_interval(secs => v_coalesce / 1000.0);
            FOREACH v_i IN ARRAY v_items LOOP
                v_run_ats[v_i] := v_run_at;
            END LOOP;
        END IF;
        v_recorded := v_recorded || v_items;
    END LOOP;
    IF cardinality(v_recorded) = 0 THEN
        RETURN;
    END IF;

    -- 4. The turns: one pending per conversation, job keys in key order.
    v_recorded := ARRAY(SELECT i FROM unnest(v_recorded) AS i
                         ORDER BY 'conversation:' || v_bot_users[i]);
    SELECT array_agg(e.key), array_agg(e.job_id), array_agg(e.inserted)
      INTO v_keys, v_job_ids, v_inserted
      FROM queue_enqueue_deduped(
               'turn',
               ARRAY(SELECT 'conversation:' || v_bot_users[i] FROM unnest(v_recorded) AS i),
               ARRAY(SELECT p_tenant[i] FROM unnest(v_recorded) AS i),
               ARRAY(SELECT jsonb_build_object('tenant_id', p_tenant[i],
                                               'bot_user_id', v_bot_users[i])
                       FROM unnest(v_recorded) AS i),
               ARRAY(SELECT v_run_ats[i] FROM unnest(v_recorded) AS i),
               0::smallint, 5) AS e;
    IF cardinality(array_remove(v_run_ats, NULL)) > 0 THEN
        -- A burst: a turn that was already pending waits for this message's quiet period too.
        UPDATE jobs j SET run_at = v_run_ats[i]
          FROM unnest(v_recorded) AS i, unnest(v_keys, v_job_ids, v_inserted) AS e(key, id, inserted)
         WHERE e.key = 'conversation:' || v_bot_users[i] AND NOT e.inserted
           AND v_run_ats[i] IS NOT NULL
           AND j.id = e.id AND j.state IN ('available', 'blocked');
    END IF;
    RETURN QUERY
    SELECT i, p_message[i], v_bot_users[i], v_seqs[i], false, e.inserted
      FROM unnest(v_recorded) AS i
      JOIN unnest(v_keys, v_inserted) AS e(key, inserted) ON e.key = 'conversation:' || v_bot_users[i];
END
$function$

