#!/usr/bin/env bash
# Compares nameplate builds under one ca-load mode by alternating them, and
# prints for each run the rate and the server's CPU time per job: utime +
# stime of the server (from /proc/PID/stat) over the middle of the run,
# divided by the jobs done in that window. CPU per job drifts less than the
# rate on a shared machine (benches/README.md, "ca.sh").
#
#   benches/ab.sh MODE SECS ROUNDS BINARY...
#   benches/ab.sh direct-keygen 9 3 /tmp/old/nameplate target/release/nameplate
#
# Environment: CONCURRENCY (ca-load's default unless set), CA_LOAD_BIN
# (default target/release/ca-load), RUST_LOG (default warn).
set -euo pipefail
if (($# < 4)); then
  sed -n '2,12p' "$0" >&2
  exit 2
fi
mode=$1 secs=$2 rounds=$3
shift 3
((secs >= 8)) || { echo "SECS must be at least 8 (4 s in, 3 s measured)" >&2; exit 2; }
load=${CA_LOAD_BIN:-$(dirname "$0")/../target/release/ca-load}
export RUST_LOG=${RUST_LOG:-warn}
tick=$(getconf CLK_TCK)
out=$(mktemp)
trap 'rm -f "$out"' EXIT

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

for round in $(seq "$rounds"); do
  for bin in "$@"; do
    bin=$(realpath "$bin")
    NAMEPLATE_BIN=$bin "$load" --secs "$secs" --warmup 200 ${CONCURRENCY:+--concurrency "$CONCURRENCY"} "$mode" >"$out" 2>&1 &
    runner=$!
    sleep 4
    pid=$(pgrep -f "^$bin serve" | head -1)
    t0=$(cpu_ticks "$pid") s0=$(date +%s.%N)
    sleep 3
    t1=$(cpu_ticks "$pid") s1=$(date +%s.%N)
    wait "$runner"
    rate=$(grep -o 'rate=[0-9.]*' "$out" | cut -d= -f2)
    per_job=$(echo "($t1 - $t0) / $tick / (($s1 - $s0) * $rate) * 1000000" | bc -l)
    printf '%s round %d %s rate=%s/s server_cpu_per_job=%.0fus %s\n' \
      "$bin" "$round" "$mode" "$rate" "$per_job" "$(grep -o 'errors=[0-9]*' "$out")"
  done
done
