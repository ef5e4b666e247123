# shellcheck shell=bash
# Shell helpers shared by scripts/sandbox, scripts/e2e and scripts/demo:
# logging, clocks, waiting for a condition with a deadline, stopping processes
# by pid, and the docker command for a sandbox node. Sourced, never run:
#
#   LOG_PREFIX=e2e
#   source "$(dirname "$0")/lib.sh"
#
# LOG_PREFIX names the script in every line it prints; LOG_FAIL_WORD (default
# "error") is the word `die` puts before the message (e2e says FAIL).

[[ -n ${LOG_PREFIX:-} ]] || LOG_PREFIX=${0##*/}
LOG_FAIL_WORD=${LOG_FAIL_WORD:-error}

# Debian's 20.10 client: the sandbox engines speak API 1.41, and the newer
# client earlier in PATH (/usr/local/bin/docker) has no compose plugin.
readonly DOCKER=/usr/bin/docker

# ------------------------------------------------------------------ logging

say() { printf '%s: %s\n' "$LOG_PREFIX" "$*"; }
warn() { printf '%s: warning: %s\n' "$LOG_PREFIX" "$*" >&2; }
die() {
  printf '%s: %s: %s\n' "$LOG_PREFIX" "$LOG_FAIL_WORD" "$*" >&2
  exit 1
}

# An ERR trap that names the command and line that failed unexpectedly
# (under `set -E`, also inside functions).
trap_unexpected_errors() {
  # shellcheck disable=SC2016 # expanded when the trap fires, not now
  trap 'printf "%s: error: unexpected failure (status %s) at line %s: %s\n" "$LOG_PREFIX" "$?" "$LINENO" "$BASH_COMMAND" >&2' ERR
}

require_root() {
  [[ $(id -u) -eq 0 ]] || die "must run as root (${1:-it starts dockerd})"
}

# ------------------------------------------------------------------- clocks

now_ms() { echo $((${EPOCHREALTIME/./} / 1000)); }

# Seconds since a now_ms value, with 2 decimals: "12.34".
since() {
  local ms=$(($(now_ms) - $1))
  printf '%d.%02d' $((ms / 1000)) $((ms % 1000 / 10))
}

# ------------------------------------------------------------------ waiting

# wait_until SECONDS CMD...: runs CMD until it succeeds (every
# $WAIT_INTERVAL seconds, 0.1 by default); fails once SECONDS have passed.
wait_until() {
  local deadline=$(($(now_ms) + $1 * 1000))
  shift
  until "$@"; do
    (($(now_ms) < deadline)) || return 1
    sleep "${WAIT_INTERVAL:-0.1}"
  done
}

# wait_for SECONDS WHAT CMD...: wait_until, but dies naming WHAT, the command
# and $diagnosis (which CMD may set to what it saw last) after SECONDS.
diagnosis=""
wait_for() {
  local limit=$1 what=$2
  shift 2
  diagnosis=""
  wait_until "$limit" "$@" ||
    die "$what: not within ${limit}s (${*})${diagnosis:+$'\n'$diagnosis}"
}

# ---------------------------------------------------------------- processes

# The process state letter (R, S, T, Z, ...); fails when there is no such pid.
pid_state() {
  local line rest
  [[ $1 =~ ^[0-9]+$ ]] || return 1
  read -r line 2>/dev/null </proc/"$1"/stat || return 1
  rest=${line##*) }
  echo "${rest%% *}"
}

# Alive and not a zombie. Zombies matter here: pid 1 on this machine reaps
# orphans late, so killed daemons linger as zombies for seconds.
pid_alive() {
  local state
  state=$(pid_state "$1") || return 1
  [[ $state != Z ]]
}

pids_gone() {
  local pid
  for pid in "$@"; do
    if pid_alive "$pid"; then return 1; fi
  done
  return 0
}

# stop_pids SECONDS PID...: SIGTERM, wait up to SECONDS, then SIGKILL (and
# wait up to 10 s more). Only the pids given: never by name.
stop_pids() {
  local timeout=$1 pid
  shift
  (($# > 0)) || return 0
  kill -TERM "$@" 2>/dev/null || true
  if ! wait_until "$timeout" pids_gone "$@"; then
    for pid in "$@"; do
      if pid_alive "$pid"; then warn "pid $pid ignored SIGTERM for ${timeout}s; sending SIGKILL"; fi
    done
    kill -KILL "$@" 2>/dev/null || true
    wait_until 10 pids_gone "$@" || warn "pids still alive after SIGKILL: $*"
  fi
}

# ------------------------------------------------------------ sandbox nodes

# The state dir of the sandbox (scripts/sandbox up writes it; `eval
# "$(scripts/sandbox env)"` exports SANDBOX_DIR).
SANDBOX_DIR=${SANDBOX_DIR:-${SWARM_PREPULL_SANDBOX_DIR:-/tmp/swarm-prepull-sandbox}}

# Node N's engine socket, and the docker command for it.
node_host() { echo "unix://$SANDBOX_DIR/node-$1/docker.sock"; }
node_docker() {
  local n=$1
  shift
  "$DOCKER" -H "$(node_host "$n")" "$@"
}
# node-1 is the first manager.
manager_docker() { node_docker 1 "$@"; }

# How many tasks of SERVICE are running (asked of the first manager).
service_tasks_running() {
  local count
  count=$(manager_docker service ps "$1" --filter desired-state=running \
    --format '{{.Node}} {{.CurrentState}}' 2>/dev/null | grep -c ' Running ') || true
  echo "${count:-0}"
}
