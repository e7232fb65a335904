#!/usr/bin/env bash
# What the webhook outbox costs ingest for a company without endpoints (BENCHMARKS.md, "Webhooks:
# what the outbox costs ingest"): the time of one message_ingest() call, in one session, with the
# `message.received` trigger as built (a row trigger whose probe is webhook_subscribed()), without
# any trigger, and with a statement trigger over a transition table making the same probe. Each run
# starts from empty conversation tables; the variants alternate (ABBA), RUNS rounds.
# Usage: bench/webhooks/ingest_cost.sh [RUNS]   (bounded: about 10 s per round)
set -euo pipefail
cd "$(dirname "$0")/../.."
runs="${1:-4}"
db="salesbot_bench_outbox"
psql_() { psql -X -q -h 127.0.0.1 -U postgres -v ON_ERROR_STOP=1 "$@"; }
psql_ -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" 2>/dev/null
trap 'psql_ -d postgres -c "DROP DATABASE IF EXISTS $db" >/dev/null' EXIT
for f in migrations/[0-9]*.sql; do psql_ -d "$db" -f "$f" >/dev/null; done
psql_ -d "$db" <<'SQL'
INSERT INTO tenants (id, name) VALUES ('00000000-0000-0000-0000-000000000001', 'bench');
-- The statement trigger first written for message.received, doing the same probe per row.
CREATE FUNCTION bench_statement_trigger() RETURNS trigger LANGUAGE plpgsql AS $f$
DECLARE r record;
BEGIN
    FOR r IN SELECT a.id FROM added a
              JOIN bot_users b ON b.tenant_id = a.tenant_id AND b.id = a.bot_user_id
             WHERE a.role = 'user' AND webhook_subscribed(a.tenant_id, 'message.received')
             ORDER BY a.tenant_id, a.bot_user_id, a.seq
    LOOP PERFORM 1; END LOOP;
    RETURN NULL;
END $f$;
CREATE TRIGGER bench_statement AFTER INSERT ON messages REFERENCING NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION bench_statement_trigger();
SQL
measure() {
  local trigger
  for trigger in messages_webhook_received bench_statement; do
    psql_ -d "$db" -c "ALTER TABLE messages DISABLE TRIGGER $trigger"
  done
  [ "$1" = none ] || psql_ -d "$db" -c "ALTER TABLE messages ENABLE TRIGGER $1"
  psql_ -d "$db" -c "SET client_min_messages = warning" \
    -c "TRUNCATE messages, bot_users, jobs, job_keys CASCADE" -c "CHECKPOINT"
  psql_ -d "$db" 2>&1 <<'SQL' | grep -o '[0-9.]* us'
DO $$
DECLARE t0 timestamptz;
BEGIN
  t0 := clock_timestamp();
  FOR i IN 1..3000 LOOP
    PERFORM * FROM message_ingest('00000000-0000-0000-0000-000000000001', 'api',
        'u' || i, gen_random_uuid(), gen_random_uuid(), 'text', 'Дом 120 м² в Алматы',
        NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
  END LOOP;
  RAISE NOTICE '% us', round(extract(epoch FROM clock_timestamp() - t0) * 1e6 / 3000, 1);
END $$;
SQL
}
for _ in $(seq "$runs"); do
  for variant in none messages_webhook_received bench_statement bench_statement messages_webhook_received none; do
    echo "$variant $(measure "$variant")"
  done
done | sort -k1,1 -k2,2n | awk '{ v[$1, ++n[$1]] = $2; all[$1] = all[$1] " " $2 }
  END { for (k in n) { m = n[k] % 2 ? v[k, (n[k] + 1) / 2] : (v[k, n[k] / 2] + v[k, n[k] / 2 + 1]) / 2
                       printf "%-26s median %6.1f µs per message (sorted runs:%s)\n", k, m, all[k] } }'
