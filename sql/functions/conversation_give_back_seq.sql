-- conversation_give_back_seq: undoes conversation_next_seq() for a message that turned out to be a
-- duplicate (its idempotency key names an earlier message): the conversation it created is
-- removed, or the seq it allocated given back, so seqs stay gap-free. Runs under the
-- conversation's lock that conversation_next_seq() took, in the same transaction; needs the
-- tenant scope. Called by message_record() and message_ingest_batch(); not from Rust.
-- Current definition: migrations/0022_customer_seq.sql.
CREATE OR REPLACE FUNCTION public.conversation_give_back_seq(p_tenant uuid, p_bot_user uuid, p_created boolean)
 RETURNS void
 LANGUAGE plpgsql
AS $function$
BEGIN
    IF p_created THEN
        DELETE FROM bot_users WHERE tenant_id = p_tenant AND id = p_bot_user;
    ELSE
        UPDATE bot_users SET last_seq = last_seq - 1 WHERE tenant_id = p_tenant AND id = p_bot_user;
    END IF;
END
$function$

