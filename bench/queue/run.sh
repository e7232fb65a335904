#!/usr/bin/env bash
# The queue benchmark in one go: machine info, the raw-SQL pgbench ceiling (ceiling.sh), then our
# queue through its public API (`cargo bench --bench queue`, bench/queue/main.rs). Everything is
# printed and also written to a log (QUEUE_BENCH_LOG_FILE, default /tmp/queue-bench-<time>.log).
# The bench binary is built before anything is measured, so compiling never overlaps a figure.
# Since the machine may be shared, the load average is recorded before each part and a sampler
# counts running rustc processes (someone else's compile) and active queries in other databases
# every 2 s during the measurements.
#
# The queue is measured twice: over TCP with TLS (libpq's default `prefer`),
# then over the server's Unix socket (QUEUE_BENCH_SOCKET_PASS=0 skips it; see below for why).
#
# Environment: everything ceiling.sh and main.rs take (QUEUE_BENCH_SCALE, QUEUE_BENCH_RUNS, …), and
# QUEUE_BENCH_SOCKET_DIR (default /var/run/postgresql).
set -euo pipefail
cd "$(dirname "$0")/../.."

export SQLX_OFFLINE=true
export PGHOST="${PGHOST:-127.0.0.1}" PGPORT="${PGPORT:-5432}" PGUSER="${PGUSER:-postgres}"
log="${QUEUE_BENCH_LOG_FILE:-/tmp/queue-bench-$(date -u +%Y%m%d-%H%M%S).log}"
socket_dir="${QUEUE_BENCH_SOCKET_DIR:-/var/run/postgresql}"

echo "run.sh: building the bench (not measured) …" >&2
cargo bench --bench queue --no-run

samples="$(mktemp)"
# Every 2 s: 1-min load, running rustc processes, and active queries in other databases.
sampler() {
  while :; do
    others=$(psql -X -qAt -d postgres -c "SELECT count(*) FROM pg_stat_activity
      WHERE state = 'active' AND datname NOT LIKE 'salesbot_bench%' AND pid <> pg_backend_pid()" \
      2>/dev/null || echo 0)
    echo "$(cut -d' ' -f1 /proc/loadavg) $(pgrep -c -x rustc || true) $others" >>"$samples"
    sleep 2
  done
}
sampler &
sampler_pid=$!
trap 'kill "$sampler_pid" 2>/dev/null || true; rm -f "$samples"' EXIT

pgq() { psql -X -qAt -d postgres -c "$1"; }

{
  echo "== machine"
  echo "date: $(date -u +%FT%TZ)"
  echo "nproc: $(nproc)"
  echo "cpu: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)"
  echo "memory: $(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)"
  echo "kernel: $(uname -r)"
  echo "postgres: $(pgq 'SELECT version()')"
  echo "postgres settings: $(pgq "SELECT string_agg(name || '=' || setting || coalesce(unit, ''), ', ' ORDER BY name)
      FROM pg_settings WHERE name IN ('shared_buffers', 'synchronous_commit', 'fsync', 'wal_level',
      'max_wal_size', 'checkpoint_timeout', 'autovacuum_naptime', 'max_connections', 'jit')")"
  echo "rustc: $(rustc --version)"
  echo "git commit: $(git rev-parse HEAD)"
  echo "uncommitted tracked changes: $(git status --porcelain --untracked-files=no | awk '{print $2}' | tr '\n' ' ')"
  echo "untracked paths: $(git status --porcelain | grep -c '^??' || true)"
  echo "load average before ceiling: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo
  echo "== pgbench ceiling (bench/queue/ceiling.sh)"
  bench/queue/ceiling.sh
  echo
  echo "load average before cargo bench: $(cut -d' ' -f1-3 /proc/loadavg)"
  # The service reaches a loopback server without TLS unless the URL names an sslmode
  # (db::connect_options); this pass asks for libpq's default, TLS, as the runs before that did.
  echo "== queue, pass 1: TCP 127.0.0.1 with TLS (sslmode=prefer)"
  echo "   (cargo bench --bench queue)"
  QUEUE_BENCH_DATABASE_URL="${QUEUE_BENCH_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/salesbot_bench?sslmode=prefer}" \
    cargo bench --bench queue
  echo
  if [ "${QUEUE_BENCH_SOCKET_PASS:-1}" != 0 ] && [ -S "$socket_dir/.s.PGSQL.$PGPORT" ]; then
    # A Unix socket has neither TCP nor TLS: this pass shows what the network path costs. (It
    # also showed sqlx 0.9.0's missing TCP_NODELAY, sqlx#4335, until 0.9.1 fixed it.)
    echo "load average before pass 2: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "== queue, pass 2: Unix socket $socket_dir (no TCP, no TLS)"
    QUEUE_BENCH_DATABASE_URL="postgres://postgres@localhost/salesbot_bench?host=$socket_dir&port=$PGPORT" \
      cargo bench --bench queue
    echo
  fi
  echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
  awk '{ n++; if ($2 > 0) busy++; if ($3 > 0) db++; if ($1 > max) max = $1 }
       END { printf("shared machine: of %d 2-s samples, %d saw a rustc running and %d saw active queries in other databases; max 1-min load %.2f\n",
                    n, busy, db, max) }' "$samples"
  echo "log: $log"
} 2>&1 | tee "$log"
