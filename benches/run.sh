#!/usr/bin/env bash
# UDP query throughput of nameplate against Knot DNS and NSD on the
# marketplace zone (see benches/README.md).
#
#   benches/run.sh
#
# Environment (all optional):
#   ROUNDS=5 SECS=10      alternating rounds and seconds per dnsperf run
#   APPS=10000            size of the generated zone (genzone.py --apps)
#   KNOT_PORT=5301 NSD_PORT=5302 NAMEPLATE_PORT=5303
#   WORKERS=2             nameplate serve --workers
#   NAMEPLATE_BIN=path    use this binary instead of building target/release/nameplate
#   NAMEPLATE_SHARED=dir  the shared kit (default ../shared beside the repo)
#   OUT=dir               where results are written (default target/bench)
#   PROFILE=1             one extra round on nameplate under `perf record -g`
#   PEERS_ONLY=1          only Knot and NSD (checks the plumbing, no nameplate)
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=benches/lib.sh
source benches/lib.sh
repo=$PWD

shared=${NAMEPLATE_SHARED:-$repo/../shared}
kit=$(cd "$shared/bench" && pwd)
rounds=${ROUNDS:-5} secs=${SECS:-10} apps=${APPS:-10000} workers=${WORKERS:-2}
export KNOT_PORT=${KNOT_PORT:-5301} NSD_PORT=${NSD_PORT:-5302}
np_port=${NAMEPLATE_PORT:-5303}
out=${OUT:-$repo/target/bench}
stamp=$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$out"

tmp=$(mktemp -d /tmp/nameplate-bench.XXXXXX)
np_pid='' perf_pid=''

# running PID: the process exists and is not a zombie (peers.sh's daemons
# are reparented to init, which may reap them late).
running() {
  local state
  state=$(ps -o stat= -p "$1" 2>/dev/null) && [[ $state != Z* ]]
}

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  [[ -n $group ]] && kill -TERM -- "-$group" 2>/dev/null
  [[ -n $perf_pid ]] && kill -INT "$perf_pid" 2>/dev/null && wait "$perf_pid" 2>/dev/null
  if [[ -n $np_pid ]] && kill "$np_pid" 2>/dev/null; then
    for _ in $(seq 50); do kill -0 "$np_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$np_pid" 2>/dev/null || true
    wait "$np_pid" 2>/dev/null || true
  fi
  local peer_pids
  peer_pids=$(cat "$tmp"/peers/*.pid 2>/dev/null || true)
  "$kit/peers.sh" stop "$tmp/peers" || true
  for pid in $peer_pids; do
    for _ in $(seq 50); do running "$pid" || break; sleep 0.1; done
  done
  rm -rf "$tmp"
  exit "$rc"
}
on_exit cleanup

# ready PORT NAME: wait up to 60 s until PORT answers NAME SOA.
ready() {
  local _
  for _ in $(seq 300); do
    [[ -n $(kdig @127.0.0.1 -p "$1" "$2" SOA +short +timeout=1 +retry=0 2>/dev/null) ]] && return 0
    if [[ -n $np_pid && $1 == "$np_port" ]] && ! kill -0 "$np_pid" 2>/dev/null; then
      break
    fi
    sleep 0.2
  done
  echo "port $1 does not answer $2 SOA" >&2
  return 1
}

# probe PORT NAME TYPE: the rcode, then the answer section sorted, or the
# authority section when there is no answer (NODATA, NXDOMAIN, referral).
# Authority NS beside a positive answer and the additional section are left
# out: there NSD and Knot differ by design (minimal responses, glue choice).
probe() {
  local resp section
  resp=$(kdig @127.0.0.1 -p "$1" "$2" "$3" +norec +timeout=2 +retry=1 2>&1) || true
  sed -n 's/.*status: \([A-Z]*\).*/status \1/p' <<<"$resp"
  for section in answer authority; do
    resp=$(kdig @127.0.0.1 -p "$1" "$2" "$3" +norec +noall "+$section" +timeout=2 +retry=1 \
      2>&1 | sort) || true
    if [[ -n $resp ]]; then
      echo "$resp"
      return 0
    fi
  done
}

# --- free ports -----------------------------------------------------------
# Knot, NSD and nameplate bind with SO_REUSEPORT: a second run on the same
# ports would share them with the first, and both runs' figures would be
# wrong. A plain bind fails on a port that anything holds.
ports=("$KNOT_PORT" "$NSD_PORT")
[[ -z ${PEERS_ONLY:-} ]] && ports+=("$np_port")
for port in "${ports[@]}"; do
  if ! python3 -c 'import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", int(sys.argv[1])))' "$port" 2>/dev/null; then
    echo "UDP port $port on 127.0.0.1 is in use (another benchmark?); pick free ones:" \
      "KNOT_PORT, NSD_PORT, NAMEPLATE_PORT" >&2
    exit 1
  fi
done

# --- zone and query mix -------------------------------------------------
echo "== zone: genzone.py --apps $apps"
python3 "$kit/genzone.py" "$tmp/zone" --apps "$apps"
zone=$tmp/zone/apps.company.com.zone
queries=$tmp/zone/queries.txt
origin=$(awk '/^\$ORIGIN/ {print $2; exit}' "$zone")

# --- servers ------------------------------------------------------------
echo "== peers: Knot on $KNOT_PORT, NSD on $NSD_PORT"
"$kit/peers.sh" start "$zone" "$tmp/peers"
ready "$KNOT_PORT" "$origin"
ready "$NSD_PORT" "$origin"
targets=("knot=$KNOT_PORT" "nsd=$NSD_PORT")

if [[ -z ${PEERS_ONLY:-} ]]; then
  bin=${NAMEPLATE_BIN:-}
  if [[ -z $bin ]]; then
    echo "== build: cargo build --release -p nameplate"
    in_group cargo build --release -p nameplate --bin nameplate
    bin=$repo/target/release/nameplate
  fi
  echo "== nameplate: import, serve --workers $workers on $np_port"
  "$bin" zone import "$zone" --data-dir "$tmp/data"
  RUST_LOG=${RUST_LOG:-warn} "$bin" serve --data-dir "$tmp/data" --workers "$workers" \
    --dns-listen "127.0.0.1:$np_port" --http-listen 127.0.0.1:0 >"$tmp/nameplate.log" 2>&1 &
  np_pid=$!
  if ! ready "$np_port" "$origin"; then
    echo "--- nameplate log" >&2; tail -n 50 "$tmp/nameplate.log" >&2
    exit 1
  fi
  targets+=("nameplate=$np_port")
fi

# --- same answers everywhere -------------------------------------------
# One query of each kind in the mix: apex SOA, A/AAAA, preview CNAME,
# wildcard, _acme-challenge TXT, NODATA, NXDOMAIN, referral.
echo "== sanity: same answers from ${targets[*]}"
checks=("$origin SOA")
for pattern in '^app[0-9]+\..* A$' '^app[0-9]+\..* AAAA$' '^pr-' '^x[0-9]+\.' \
  '^_acme-challenge' ' MX$' '-old\.' '^app\.prod\.'; do
  line=$(grep -m1 -E -- "$pattern" "$queries" || true)
  [[ -n $line ]] && checks+=("$line")
done
mismatch=0
for check in "${checks[@]}"; do
  read -r qname qtype <<<"$check"
  ref=$(probe "$KNOT_PORT" "$qname" "$qtype")
  for target in "${targets[@]:1}"; do
    got=$(probe "${target#*=}" "$qname" "$qtype")
    if [[ $got != "$ref" ]]; then
      mismatch=1
      echo "MISMATCH $qname $qtype: knot vs ${target%%=*}"
      diff <(echo "$ref") <(echo "$got") | sed 's/^/  /' || true
    fi
  done
  echo "  $qname $qtype: $(head -n1 <<<"$ref" | cut -d' ' -f2), $(($(wc -l <<<"$ref") - 1)) records"
done
if ((mismatch)) && [[ -z ${ALLOW_MISMATCH:-} ]]; then
  echo "answers differ; not benchmarking (ALLOW_MISMATCH=1 to go on)" >&2
  exit 1
fi

# --- throughput ---------------------------------------------------------
result=$out/compare-$stamp.txt
echo "== compare: $rounds rounds x ${secs}s, dnsperf -c 2 -q 200 -T 1"
{
  echo "# benches/run.sh $stamp commit $(git describe --always --dirty 2>/dev/null || echo none)"
  echo "# apps=$apps rounds=$rounds secs=$secs workers=$workers nproc=$(nproc)"
} | tee "$result"
# shellcheck disable=SC2016  # $0 and $@ belong to the inner bash
in_group bash -c 'set -o pipefail; "$@" | tee -a "$0"' "$result" \
  "$kit/compare.sh" "$queries" "$rounds" "$secs" "${targets[@]}"
echo "== results in $result"

# --- optional profile ---------------------------------------------------
if [[ -n ${PROFILE:-} && -n $np_pid ]]; then
  if command -v perf >/dev/null; then
    echo "== profile: perf record -g on nameplate during one more ${secs}s run"
    data=$out/perf-$stamp.data
    perf record -g -p "$np_pid" -o "$data" >"$tmp/perf.log" 2>&1 &
    perf_pid=$!
    in_group "$kit/compare.sh" "$queries" 1 "$secs" "nameplate=$np_port" || true
    kill -INT "$perf_pid" 2>/dev/null || true
    wait "$perf_pid" 2>/dev/null || true
    perf_pid=
    if perf report -i "$data" --stdio --no-children >"$out/perf-$stamp.txt" 2>/dev/null; then
      perf report -i "$data" --stdio --no-children -g none --percent-limit 1 2>/dev/null |
        grep -v '^#' | sed '/^$/d' | head -n 25 || true
      echo "== profile in $data (with call graphs: $out/perf-$stamp.txt)"
    else
      echo "perf recorded nothing usable:"; cat "$tmp/perf.log"
    fi
  else
    echo "PROFILE=1 but perf is not installed (Debian: linux-perf); skipped"
  fi
fi
