#!/usr/bin/env bash
# shellcheck disable=SC2317  # functions below are called through phase()
# The one test command (README, .ci/run): format, lint, one optimized build
# (profile ci: release without LTO, which links the test binaries faster),
# then every test of the workspace against that build.
#
#   bash scripts/test-all.sh
#
# Installs the Debian packages the end-to-end tests need (Knot, NSD, kdig,
# dig, nsupdate, knsupdate, dnsperf, python3, BIND, lego, Pebble, openssl,
# certbot with its rfc2136 plugin)
# when a command is missing, and keeps their system services from running.
# Runs as root in CI (CI=true, no stdin).
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian puts knotd and nsd in /usr/sbin; a non-login root shell may lack it.
case ":$PATH:" in *:/usr/sbin:*) ;; *) PATH=$PATH:/usr/sbin:/sbin ;; esac

# Tests read the shared benchmark kit (genzone.py, peers.sh) through this.
if [[ -z ${NAMEPLATE_SHARED:-} && -d ../shared ]]; then
  NAMEPLATE_SHARED=$(cd ../shared && pwd)
fi
if [[ -n ${NAMEPLATE_SHARED:-} ]]; then export NAMEPLATE_SHARED; fi

# A panicking test prints where it came from.
export RUST_BACKTRACE=${RUST_BACKTRACE:-1}

started=$SECONDS
timings=()
current=

# phase NAME COMMAND...: run COMMAND, print and record how long it took,
# return its status.
phase() {
  local name=$1 t0=$SECONDS rc=0
  shift
  current=$name
  echo "==> $name"
  "$@" || rc=$?
  timings+=("$name $((SECONDS - t0))s")
  echo "==> $name took $((SECONDS - t0))s (exit $rc)"
  return "$rc"
}

# Keep the packages' own services from running (they would hold port 53).
# Without systemd, end only the daemons the init scripts started, found by
# their pid files: `service nsd stop` must not be used, because its generic
# init-d-script stop also matches every /usr/sbin/nsd on the machine (a
# benchmark's or a test's) and SIGKILLs it after 30 s.
stop_services() {
  if [[ -d /run/systemd/system ]] && command -v systemctl >/dev/null; then
    systemctl disable --now knot nsd named >/dev/null 2>&1 || true
    return 0
  fi
  local pidfile pid exe
  for pidfile in /run/knot/knot.pid /run/nsd/nsd.pid /run/named/named.pid; do
    [[ -s $pidfile ]] || continue
    pid=$(<"$pidfile")
    exe=$(readlink "/proc/$pid/exe" 2>/dev/null) || continue
    case $exe in
      */knotd | */nsd | */named) kill "$pid" 2>/dev/null || true ;;
    esac
  done
}

install_packages() {
  local -A pkg_of=([knotd]=knot [nsd]=nsd [dig]=dnsutils [kdig]=knot-dnsutils
    [dnsperf]=dnsperf [python3]=python3 [nsupdate]=dnsutils [knsupdate]=knot-dnsutils
    [named]=bind9 [lego]=lego [pebble]=pebble [openssl]=openssl [certbot]=certbot)
  local cmd need=()
  for cmd in "${!pkg_of[@]}"; do
    command -v "$cmd" >/dev/null || need+=("${pkg_of[$cmd]}")
  done
  # certbot's rfc2136 plugin is a Python module of Debian's python3, not a command.
  dpkg-query -W -f='${Status}' python3-certbot-dns-rfc2136 2>/dev/null | grep -q 'ok installed' ||
    need+=(python3-certbot-dns-rfc2136)
  if ((${#need[@]} == 0)); then
    echo "all of ${!pkg_of[*]} present"
    [[ ${CI:-} == true ]] && stop_services
    return 0
  fi
  echo "installing ${need[*]}"
  # invoke-rc.d asks policy-rc.d; 101 = "don't start services" during install.
  local policy=/usr/sbin/policy-rc.d ours=
  if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && ours=1
  fi
  local rc=1 attempt
  for attempt in 1 2; do # one retry: a mirror hiccup should not fail CI
    if apt-get update -qq &&
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null; then
      rc=0
      break
    fi
    echo "apt-get failed (attempt $attempt)"
  done
  [[ -n $ours ]] && rm -f "$policy"
  stop_services
  return "$rc"
}

# Sums the "test result:" lines of cargo test into one plain closing line.
summarize() {
  awk '/^test result:/ {
         for (i = 1; i <= NF; i++) {
           if ($(i) ~ /^passed;?$/) p += $(i - 1)
           if ($(i) ~ /^failed;?$/) f += $(i - 1)
           if ($(i) ~ /^ignored;?$/) s += $(i - 1)
         }
       }
       END { printf "%d passed, %d failed, %d skipped\n", p, f, s }' "$1"
}

run_tests() {
  local rc=0
  cargo test --profile ci --workspace 2>&1 | tee "$test_log" || rc=$?
  return "$rc"
}

on_exit() {
  local rc=$?
  rm -f "$test_log"
  if ((rc != 0)) && [[ $current != test ]]; then
    echo "test-all: FAILED at $current (exit $rc)"
  fi
}
test_log=$(mktemp)
trap on_exit EXIT

phase deps install_packages
phase fmt cargo fmt --all -- --check
phase clippy cargo clippy --release --workspace --all-targets -- -D warnings
phase build cargo build --profile ci --workspace --all-targets
test_rc=0
phase test run_tests || test_rc=$?

echo
printf '  %s\n' "${timings[@]}"
echo "  total $((SECONDS - started))s"
if ((test_rc != 0)) && ! grep -q '^test result:.* [1-9][0-9]* failed' "$test_log"; then
  echo "test-all: FAILED, cargo test exited $test_rc before reporting a failed test"
else
  echo "test-all: $(summarize "$test_log")"
fi
exit "$test_rc"
