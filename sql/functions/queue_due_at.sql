-- queue_due_at: the due time of a new job. A job due now (`p_run_at` NULL or past) gets now()
-- minus `p_priority` seconds, so priority is a bias of the due time and the claim stays a plain
-- index range scan on (run_at, id); a delayed job keeps its requested time. Takes no locks.
-- A STABLE SQL function, so the planner inlines it into the statements that use it: the enqueue
-- statements of `queue::enqueue` and `queue::enqueue_many` (src/queue/mod.rs), and
-- queue_enqueue_deduped(). queue_enqueue() states the same rule inline (0006, left as it landed).
-- Current definition: migrations/0014_queue_ack_plans.sql.
CREATE OR REPLACE FUNCTION public.queue_due_at(p_run_at timestamp with time zone, p_priority smallint)
 RETURNS timestamp with time zone
 LANGUAGE sql
 STABLE
AS $function$
    SELECT CASE WHEN p_run_at IS NULL OR p_run_at <= now()
                THEN now() - make_interval(secs => p_priority) ELSE p_run_at END
$function$

