#!/usr/bin/env bash
# The raw-SQL ceiling of the queue benchmark, with pgbench on the same machine: how fast Postgres
# inserts and takes rows of a minimal table with nothing of the queue's around it.
#   (a) insert_1     one job per transaction: INSERT                                  (vs enqueue)
#   (b) delete_1     one job per transaction: DELETE … (SELECT … FOR UPDATE SKIP LOCKED LIMIT 1)
#   (c) delete_100   100 jobs per statement, same shape                            (vs processing)
# Each run: pgbench -n -M prepared -c 8 -j 2 -T 10, on a freshly created and (for deletes) prefilled
# table, after VACUUM ANALYZE and CHECKPOINT. jobs/s = rows inserted or deleted (counted before and
# after) / run time (transactions / tps), so a delete run that found no rows cannot inflate its rate;
# a delete run that emptied the table is flagged. One JSON line per figure on stdout.
#
# Environment: PGHOST/PGPORT/PGUSER (default 127.0.0.1:5432, postgres), CEILING_DB
# (salesbot_bench_ceiling, dropped and recreated), CEILING_SECONDS (10), CEILING_PREFILL_ONE (500k),
# CEILING_PREFILL_BATCH (4M).
set -euo pipefail
cd "$(dirname "$0")/pgbench"

export PGHOST="${PGHOST:-127.0.0.1}" PGPORT="${PGPORT:-5432}" PGUSER="${PGUSER:-postgres}"
export PGOPTIONS="${PGOPTIONS:-} -c client_min_messages=warning"
db="${CEILING_DB:-salesbot_bench_ceiling}"
secs="${CEILING_SECONDS:-10}"
prefill_one="${CEILING_PREFILL_ONE:-500000}"
prefill_batch="${CEILING_PREFILL_BATCH:-4000000}"
clients=8
threads=2

psql -X -q -v ON_ERROR_STOP=1 -d postgres \
  -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db"

count() { psql -X -qAt -d "$db" -c "SELECT count(*) FROM ceiling_jobs"; }

# run <figure> <script> <prefill rows> <insert|delete>
run() {
  local figure=$1 script=$2 prefill=$3 direction=$4
  psql -X -q -v ON_ERROR_STOP=1 -d "$db" -f schema.sql
  if [ "$prefill" -gt 0 ]; then
    psql -X -q -v ON_ERROR_STOP=1 -v rows="$prefill" -d "$db" -f prefill.sql
  fi
  psql -X -q -v ON_ERROR_STOP=1 -d "$db" -c "VACUUM ANALYZE ceiling_jobs" -c "CHECKPOINT"
  local before after out tps txns
  before=$(count)
  echo "ceiling: $figure (prefill $prefill) …" >&2
  out=$(pgbench -n -M prepared -c "$clients" -j "$threads" -T "$secs" -f "$script" "$db" 2>&1) || {
    echo "$out" >&2
    return 1
  }
  after=$(count)
  tps=$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' <<<"$out" | head -1)
  txns=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' <<<"$out" | head -1)
  awk -v f="$figure" -v s="$script" -v tps="$tps" -v txns="$txns" -v before="$before" \
      -v after="$after" -v dir="$direction" -v c="$clients" -v j="$threads" -v t="$secs" 'BEGIN {
    rows = (dir == "insert") ? after - before : before - after;
    seconds = txns / tps;
    exhausted = (dir == "delete" && after == 0) ? "true" : "false";
    printf("{\"figure\":\"%s\",\"jobs_per_s\":%.0f,\"tps\":%.1f,\"rows\":%d,\"rows_per_tx\":%.2f,\"seconds\":%.3f,\"script\":\"%s\",\"pgbench\":\"-n -M prepared -c %d -j %d -T %d\",\"table_emptied\":%s}\n",
           f, rows / seconds, tps, rows, rows / txns, seconds, s, c, j, t, exhausted);
  }'
  if [ "$direction" = delete ] && [ "$after" -eq 0 ]; then
    echo "ceiling: WARNING $figure emptied the table: raise its prefill, the rate is a lower bound" >&2
  fi
}

run ceiling_insert_1 insert.sql 0 insert
run ceiling_delete_1 delete_one.sql "$prefill_one" delete
run ceiling_delete_100 delete_100.sql "$prefill_batch" delete

psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)"
