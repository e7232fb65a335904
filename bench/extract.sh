#!/usr/bin/env bash
# Throughput of `salesbot extract` on one core: the dev set repeated to N conversations.
#
# Run from the repository root:  bash bench/extract.sh
# Environment:
#   DEV=path/to/dev.jsonl   input set (default: shared/eval/dev.jsonl next to the repo)
#   N=10000                 conversations to feed
#   RUNS=5                  timed runs (the best and the median are reported)
#   SKIP_BUILD=1            do not run `cargo build --release`
#   EXTRACT_CMD="..."       command to time instead of `target/release/salesbot extract`
set -euo pipefail

N="${N:-10000}"
RUNS="${RUNS:-5}"
root="$(pwd)"

if [[ -z "${DEV:-}" ]]; then
    for cand in "$root/../shared/eval/dev.jsonl" "$root/shared/eval/dev.jsonl" /work/shared/eval/dev.jsonl; do
        if [[ -f "$cand" ]]; then DEV="$cand"; break; fi
    done
fi
if [[ -z "${DEV:-}" || ! -f "$DEV" ]]; then
    echo "error: dev.jsonl not found; set DEV=path/to/dev.jsonl" >&2
    exit 2
fi

if [[ -z "${SKIP_BUILD:-}" ]]; then
    cargo build --release --quiet
fi
EXTRACT_CMD="${EXTRACT_CMD:-$root/target/release/salesbot extract}"

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
input="$tmp/input.jsonl"

# Repeat the non-blank lines of the dev set until there are N conversations.
grep -v '^[[:space:]]*$' "$DEV" > "$tmp/dev.jsonl"
per="$(wc -l < "$tmp/dev.jsonl")"
if [[ "$per" -eq 0 ]]; then echo "error: $DEV is empty" >&2; exit 2; fi
: > "$input"
while [[ "$(wc -l < "$input")" -lt "$N" ]]; do cat "$tmp/dev.jsonl" >> "$input"; done
head -n "$N" "$input" > "$tmp/n.jsonl" && mv "$tmp/n.jsonl" "$input"

pin=()
if command -v taskset > /dev/null; then pin=(taskset -c 0); else echo "note: taskset not found, not pinned" >&2; fi

# Sanity: one output line per conversation, nothing on stderr.
# shellcheck disable=SC2086
"${pin[@]}" $EXTRACT_CMD < "$input" > "$tmp/out.jsonl" 2> "$tmp/err.txt"
lines="$(wc -l < "$tmp/out.jsonl")"
if [[ "$lines" -ne "$N" || -s "$tmp/err.txt" ]]; then
    echo "error: expected $N output lines and no errors, got $lines lines:" >&2
    head -n 5 "$tmp/err.txt" >&2
    exit 1
fi

if command -v hyperfine > /dev/null; then
    hyperfine --warmup 1 --runs "$RUNS" --export-json "$tmp/h.json" \
        "${pin[*]} $EXTRACT_CMD < '$input' > /dev/null" > /dev/null
    mean="$(grep -m1 '"mean"' "$tmp/h.json" | sed 's/[^0-9.eE+-]//g')"
    awk -v n="$N" -v t="$mean" 'BEGIN { printf "%d conversations, mean %.3f s (hyperfine)\n%.0f conversations/s\n", n, t, n / t }'
    exit 0
fi

times=()
for _ in $(seq "$RUNS"); do
    start="$(date +%s.%N)"
    # shellcheck disable=SC2086
    "${pin[@]}" $EXTRACT_CMD < "$input" > /dev/null
    end="$(date +%s.%N)"
    times+=("$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.4f", b - a }')")
done
sorted="$(printf '%s\n' "${times[@]}" | sort -n)"
best="$(head -n1 <<< "$sorted")"
median="$(sed -n "$(( (RUNS + 1) / 2 ))p" <<< "$sorted")"
awk -v n="$N" -v b="$best" -v m="$median" -v r="$RUNS" 'BEGIN {
    printf "%d conversations, %d runs: best %.3f s, median %.3f s\n", n, r, b, m
    printf "%.0f conversations/s (median), %.0f conversations/s (best)\n", n / m, n / b
}'
