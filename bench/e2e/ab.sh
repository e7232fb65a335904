#!/usr/bin/env bash
# A/B latency of two salesbot builds on the e2e bench, in ABBA order (each build first in half
# of the rounds), a CHECKPOINT and a pause before every run; one JSON line per run on stdout.
#   bench/e2e/ab.sh <salesbot binary A> <salesbot binary B> [rounds=6]
# The bench binary is this checkout's (`cargo bench --bench e2e --no-run` builds it; E2E_BENCH
# names another). Latency only, unless E2E_THROUGHPUT=1 (then throughput too).
set -euo pipefail
cd "$(dirname "$0")/../.."
a=$1 b=$2 rounds=${3:-6}
bench=${E2E_BENCH:-$(ls -t target/release/deps/e2e-* | grep -v '\.d$' | head -1)}
[ -n "${E2E_THROUGHPUT:-}" ] || export E2E_SKIP_THROUGHPUT=1
for round in $(seq 1 "$rounds"); do
  if [ $((round % 2)) -eq 1 ]; then order="A B"; else order="B A"; fi
  for build in $order; do
    bin=$a; [ "$build" = B ] && bin=$b
    psql -q -h 127.0.0.1 -U postgres -c CHECKPOINT >/dev/null
    sleep 5
    E2E_SALESBOT_BIN=$bin "$bench" 2>/dev/null | grep -v '"messages":0,' | while read -r line; do
      echo "{\"round\":$round,\"build\":\"$build\",\"load\":\"$(cut -d' ' -f1 /proc/loadavg)\",\"run\":$line}"
    done
  done
done
