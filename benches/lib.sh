# shellcheck shell=bash
# Shared by run.sh and ca.sh (sourced, not run).

group=''

# in_group COMMAND...: run COMMAND in a process group of its own ($group
# while it runs) and wait for it. A signal then runs the caller's cleanup at
# once (bash defers traps until a foreground command ends), and cleanup can
# end all of it with `kill -- -$group`.
in_group() {
  local rc=0
  setsid "$@" &
  group=$!
  wait "$group" || rc=$?
  group=''
  return "$rc"
}

# on_exit FUNCTION: run FUNCTION on exit, also after Ctrl-C or SIGTERM.
on_exit() {
  trap "$1" EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
}
