#!/usr/bin/env bash
# Throughput and latency of nameplate's CA (complete ACME orders per second,
# direct-issuance certificates per second), then lego's end-to-end issuance
# time against nameplate and against Pebble with Knot DNS, in one run on one
# machine (see benches/README.md, "ca.sh").
#
#   benches/ca.sh
#
# Environment (all optional):
#   SECS=10               seconds per load mode, unless a count below ends it first
#   ACME_COUNT=30000      the most orders per ACME mode (a CSR is pre-made for each)
#   DIRECT_COUNT=1000000  the most certificates per direct mode
#   CONCURRENCY=16        jobs in flight at once
#   WARMUP=200            untimed jobs before each load mode
#   DIRECT_POOL=1000      distinct names (and CSRs) the direct modes cycle through
#   MODES="acme-preauth acme-dns01 direct-csr direct-keygen"   load modes ("" for none)
#   ROUNDS=5              lego rounds, alternating; ROUNDS=0 skips lego
#   LEGO_POLLING_INTERVAL=0  lego's RFC2136_POLLING_INTERVAL (lego's default: 2 s)
#   NAMEPLATE_BIN=path    use this binary instead of building target/release/nameplate
#   CA_LOAD_BIN=path      use this ca-load instead of building target/release/ca-load
#   OUT=dir               where results are written (default target/bench)
#   RUST_LOG=warn         the server's log filter
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=benches/lib.sh
source benches/lib.sh
repo=$PWD

secs=${SECS:-10} acme_count=${ACME_COUNT:-30000} direct_count=${DIRECT_COUNT:-1000000} concurrency=${CONCURRENCY:-16} warmup=${WARMUP:-200}
direct_pool=${DIRECT_POOL:-1000} rounds=${ROUNDS:-5} polling=${LEGO_POLLING_INTERVAL:-0}
modes=${MODES-acme-preauth acme-dns01 direct-csr direct-keygen}
out=${OUT:-$repo/target/bench}
target_dir=${CARGO_TARGET_DIR:-$repo/target}
stamp=$(date -u +%Y%m%dT%H%M%SZ)
export RUST_LOG=${RUST_LOG:-warn}
mkdir -p "$out"

tmp=$(mktemp -d /tmp/nameplate-ca-bench.XXXXXX)

# cleanup: end ca-load's process group (ca-load, and the nameplate, knotd,
# pebble and lego processes it started), wait for them, remove $tmp.
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [[ -n $group ]] && kill -TERM -- "-$group" 2>/dev/null; then
    for _ in $(seq 100); do kill -0 -- "-$group" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$group" 2>/dev/null || true
    wait "$group" 2>/dev/null || true
  fi
  rm -rf "$tmp"
  exit "$rc"
}
on_exit cleanup

# --- tools ----------------------------------------------------------------
if ((rounds > 0)); then
  for tool in lego pebble knotd openssl; do
    command -v "$tool" >/dev/null || {
      echo "$tool not found (Debian: apt-get install lego pebble knot openssl), or ROUNDS=0" >&2
      exit 1
    }
  done
fi
args=()
for mode in $modes; do args+=("$mode"); done
((rounds > 0)) && args+=(lego)
if ((${#args[@]} == 0)); then
  echo "nothing to run: MODES is empty and ROUNDS=0" >&2
  exit 1
fi

# --- binaries ---------------------------------------------------------------
bin=${NAMEPLATE_BIN:-}
if [[ -z $bin ]]; then
  echo "== build: cargo build --release -p nameplate"
  in_group cargo build --release -p nameplate --bin nameplate
  bin=$target_dir/release/nameplate
fi
load=${CA_LOAD_BIN:-}
if [[ -z $load ]]; then
  echo "== build: cargo build --release -p nameplate-benches"
  in_group cargo build --release -p nameplate-benches --bin ca-load
  load=$target_dir/release/ca-load
fi
export NAMEPLATE_BIN=$bin

# --- run --------------------------------------------------------------------
# ca-load starts a fresh nameplate per mode on free loopback ports (the
# tests' harness), and Knot and Pebble for lego; every temporary file goes
# under $tmp (TMPDIR), which cleanup removes.
result=$out/ca-$stamp.txt
echo "== ca-load ${args[*]}"
{
  echo "# benches/ca.sh $stamp commit $(git describe --always --dirty 2>/dev/null || echo none)"
  echo "# modes=${modes// /,} secs=$secs acme_count=$acme_count direct_count=$direct_count" \
    "concurrency=$concurrency warmup=$warmup direct_pool=$direct_pool rounds=$rounds" \
    "lego_polling_interval=$polling nproc=$(nproc)"
  echo "# nameplate=$bin ca-load=$load"
} | tee "$result"
# shellcheck disable=SC2016  # $0 and $@ belong to the inner bash
TMPDIR=$tmp in_group bash -c 'set -o pipefail; "$@" | tee -a "$0"' "$result" \
  "$load" --secs "$secs" --acme-count "$acme_count" --direct-count "$direct_count" --concurrency "$concurrency" --warmup "$warmup" \
  --direct-pool "$direct_pool" --rounds "$rounds" --lego-polling-interval "$polling" "${args[@]}"
echo "== results in $result"
