#!/usr/bin/env bash
# A throwaway single-node Ceph cluster with a RADOS Gateway (S3) on loopback.
#
#   scripts/rgw.sh start DIR PORT ACCESS_KEY SECRET_KEY [RAM_BYTES]
#   scripts/rgw.sh stop  DIR
#   scripts/rgw.sh gc    DIR
#
# All state (config, monitor store, OSD, logs, sockets, pid files) lives under DIR.
# One monitor (v1 messenger, 127.0.0.1), one memstore OSD (data in RAM, RAM_BYTES budget,
# default 6 GiB, allocated lazily), no cephx, radosgw's beast frontend on 127.0.0.1:PORT.
#
# The monitor port is RGW_MON_PORT when set, otherwise the first port from a candidate
# derived from PORT that nothing answers on. OSD ports are chosen by Ceph itself
# (first free one in 6800-7300), so several clusters can run side by side.
#
# "start" prints "listening on http://127.0.0.1:PORT" once S3 answers and the user exists.
# If it fails, it stops whatever it started and prints the tail of the logs.
#
# Needs Debian 12 packages: radosgw ceph-mon ceph-osd (Ceph 16.2). Uses only /usr/bin tools.
set -Eeuo pipefail  # -E: the ERR trap of "start" also fires inside functions

CEPH_BIN=/usr/bin
START_TIMEOUT="${RGW_START_TIMEOUT:-120}"  # seconds, whole "start"

usage() {
  echo "usage: $0 start DIR PORT ACCESS_KEY SECRET_KEY [RAM_BYTES] | stop DIR | gc DIR" >&2
  exit 2
}

log() { echo "rgw.sh: $*" >&2; }

now_ms() { date +%s%3N; }

is_port() {
  [[ "$1" =~ ^[0-9]+$ ]] && (("$1" >= 1 && "$1" <= 65535))
}

# True when something accepts TCP connections on 127.0.0.1:$1.
port_answers() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# Absolute, normalised path without requiring it to exist.
abs_dir() {
  local d="$1"
  if [[ "$d" != /* ]]; then d="$PWD/$d"; fi
  # strip trailing slashes (but keep "/")
  while [[ "$d" == */ && "$d" != / ]]; do d="${d%/}"; done
  printf '%s\n' "$d"
}

# PIDs of processes started with "-c DIR/ceph.conf" (daemons and our own CLI calls),
# plus the PIDs in DIR/run/*.pid if those processes still refer to DIR.
cluster_pids() {
  local dir="$1" conf="$1/ceph.conf" p f
  local -A seen=()
  shopt -s nullglob
  for f in "$dir"/run/*.pid; do
    p="$(tr -dc '0-9' <"$f" 2>/dev/null || true)"
    if [[ -n "$p" ]] && pid_uses_conf "$p" "$conf"; then seen["$p"]=1; fi
  done
  for f in /proc/[0-9]*; do
    p="${f#/proc/}"
    if [[ "$p" != "$$" && "$p" != "$BASHPID" ]] && pid_uses_conf "$p" "$conf"; then seen["$p"]=1; fi
  done
  shopt -u nullglob
  for p in "${!seen[@]}"; do printf '%s\n' "$p"; done
}

# True when process $1 has the exact argument $2 (the config path) on its command line.
pid_uses_conf() {
  local pid="$1" conf="$2" arg
  [[ -r "/proc/$pid/cmdline" ]] || return 1
  while IFS= read -r -d '' arg; do
    if [[ "$arg" == "$conf" ]]; then return 0; fi
  done <"/proc/$pid/cmdline" 2>/dev/null || return 1
  return 1
}

# Comm name of a process ("radosgw", "ceph-osd", ...), empty if gone.
pid_comm() { cat "/proc/$1/comm" 2>/dev/null || true; }

# TERM the given PIDs and wait for them to exit; KILL after $2 tenths of a second.
stop_pids() {
  local conf="$1" grace="$2" p waited=0
  shift 2
  (($# > 0)) || return 0
  log "stop: TERM $*"
  for p in "$@"; do kill -TERM "$p" 2>/dev/null || true; done
  while :; do
    local alive=()
    for p in "$@"; do
      # A zombie has no cmdline any more: it no longer counts as running.
      if pid_uses_conf "$p" "$conf"; then alive+=("$p"); fi
    done
    ((${#alive[@]} == 0)) && return 0
    if ((waited == grace)); then
      log "stop: KILL ${alive[*]}"
      for p in "${alive[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
    fi
    if ((waited > grace + 100)); then
      log "stop: processes did not exit: ${alive[*]}"
      return 1
    fi
    sleep 0.1
    waited=$((waited + 1))
  done
}

do_stop() {
  local dir pids p
  dir="$(abs_dir "$1")"
  if [[ ! -e "$dir/ceph.conf" ]]; then
    log "stop: nothing to stop in $dir"
    return 0
  fi
  mapfile -t pids < <(cluster_pids "$dir")
  if ((${#pids[@]} == 0)); then
    log "stop: no running daemons for $dir"
    rm -f -- "$dir"/run/*.pid
    return 0
  fi
  # Order matters: an OSD stopped after its monitor waits 5 s (osd_mon_shutdown_timeout)
  # trying to report its shutdown. So: clients and radosgw, then the OSD, then the monitor.
  local first=() osds=() mons=() rc=0
  for p in "${pids[@]}"; do
    case "$(pid_comm "$p")" in
      ceph-osd) osds+=("$p") ;;
      ceph-mon) mons+=("$p") ;;
      *) first+=("$p") ;;
    esac
  done
  # radosgw may take 5-10 s on TERM while its lifecycle threads finish a "sleep 5"; its state
  # lives in the OSD, so it gets 2 s before KILL.
  stop_pids "$dir/ceph.conf" 20 "${first[@]}" || rc=1
  stop_pids "$dir/ceph.conf" 100 "${osds[@]}" || rc=1
  stop_pids "$dir/ceph.conf" 100 "${mons[@]}" || rc=1
  rm -f -- "$dir"/run/*.pid
  if ((rc == 0)); then log "stop: stopped"; fi
  return "$rc"
}

do_gc() {
  local dir
  dir="$(abs_dir "$1")"
  [[ -e "$dir/ceph.conf" ]] || { log "gc: no cluster in $dir"; return 1; }
  timeout 300 "$CEPH_BIN/radosgw-admin" -c "$dir/ceph.conf" gc process --include-all
}

# --- start -------------------------------------------------------------------------------

START_DIR=""
DEADLINE=0

remaining() {
  local r=$((DEADLINE - $(date +%s)))
  ((r > 0)) || r=1
  echo "$r"
}

check_deadline() {
  if (($(date +%s) >= DEADLINE)); then
    log "start: timed out after ${START_TIMEOUT}s while: $1"
    return 1
  fi
}

ceph_cli() {
  timeout "$(remaining)" "$CEPH_BIN/ceph" -c "$START_DIR/ceph.conf" --connect-timeout 10 "$@"
}

# A monitor that has just answered may still refuse commands for a moment under load
# ("EPERM: problem getting command descriptions from mon"): retry until the deadline.
# Only for idempotent commands.
ceph_retry() {
  local out
  until out="$(ceph_cli "$@" 2>&1)"; do
    check_deadline "running ceph $*: $out"
    sleep 0.3
  done
  printf '%s\n' "$out"
}

on_start_error() {
  local rc=$?
  # -E makes subshells ($(...)) inherit this trap: let only the main shell clean up.
  if [[ "$BASHPID" != "$$" ]]; then exit "$rc"; fi
  trap - ERR
  if [[ -n "$START_DIR" ]]; then
    log "start: failed (exit $rc); log tails follow"
    local f
    shopt -s nullglob
    for f in "$START_DIR"/log/*.log; do
      echo "----- $f" >&2
      tail -n 20 -- "$f" >&2 || true
    done
    shopt -u nullglob
    do_stop "$START_DIR" || true
  fi
  exit "$rc"
}

# start_daemon NAME CMD...: run a (self-daemonizing) Ceph daemon; its start-up chatter goes to
# DIR/log/NAME.stderr.log. The command returns once the daemon has initialised (or failed);
# a failed start is retried twice, since early monitor races can kill a booting daemon.
start_daemon() {
  local name="$1" try
  shift
  for try in 1 2 3; do
    if "$@" 2>>"$START_DIR/log/$name.stderr.log" >/dev/null; then return 0; fi
    log "start: $name failed to start (try $try)"
    check_deadline "starting $name"
    sleep 0.5
  done
  return 1
}

do_start() {
  local dir="$1" port="$2" access_key="$3" secret_key="$4" ram="${5:-6442450944}"
  is_port "$port" || { log "start: bad PORT: $port"; exit 2; }
  [[ "$ram" =~ ^[0-9]+$ ]] || { log "start: bad RAM_BYTES: $ram"; exit 2; }
  [[ -n "$access_key" && -n "$secret_key" ]] || { log "start: empty key"; exit 2; }
  [[ "$START_TIMEOUT" =~ ^[0-9]+$ ]] || { log "start: bad RGW_START_TIMEOUT"; exit 2; }
  for b in ceph ceph-mon ceph-osd ceph-authtool monmaptool radosgw radosgw-admin; do
    [[ -x "$CEPH_BIN/$b" ]] || { log "start: missing $CEPH_BIN/$b (apt-get install radosgw ceph-mon ceph-osd)"; exit 3; }
  done

  dir="$(abs_dir "$dir")"
  mkdir -p -- "$dir"
  dir="$(cd -- "$dir" && pwd -P)"
  # Unix socket paths are limited to 107 bytes ("$dir/run/ceph-client.rgw.a.<pid>.<n>.asok").
  if ((${#dir} > 60)); then
    log "start: DIR path too long for admin sockets (${#dir} > 60 chars): $dir"
    exit 2
  fi

  # A previous cluster in this DIR: stop it and drop its state.
  if [[ -e "$dir/ceph.conf" ]]; then
    log "start: $dir holds an old cluster; stopping it and removing its state"
    do_stop "$dir"
    rm -rf -- "$dir/mon.a" "$dir/osd.0" "$dir/rgw" "$dir/run" "$dir/log" "$dir/crash" \
      "$dir/keyring" "$dir/monmap" "$dir/ceph.conf"
  fi

  local mon_port="${RGW_MON_PORT:-}"
  if [[ -n "$mon_port" ]]; then
    is_port "$mon_port" || { log "start: bad RGW_MON_PORT: $mon_port"; exit 2; }
  else
    # Derived from PORT, then the next port nobody answers on.
    mon_port=$(((port % 20000) + 40000))
    local tries=0
    while [[ "$mon_port" == "$port" ]] || port_answers "$mon_port"; do
      mon_port=$((mon_port + 1))
      ((mon_port <= 65535)) || mon_port=40000
      tries=$((tries + 1))
      ((tries < 1000)) || { log "start: no free monitor port"; exit 1; }
    done
  fi
  [[ "$mon_port" != "$port" ]] || { log "start: monitor port equals PORT"; exit 2; }
  if port_answers "$port"; then log "start: 127.0.0.1:$port is already in use"; exit 1; fi
  if port_answers "$mon_port"; then log "start: monitor port 127.0.0.1:$mon_port is already in use"; exit 1; fi

  START_DIR="$dir"
  DEADLINE=$(($(date +%s) + START_TIMEOUT))
  trap on_start_error ERR
  local t0
  t0="$(now_ms)"

  mkdir -p -- "$dir/mon.a" "$dir/osd.0" "$dir/rgw" "$dir/run" "$dir/log"
  local fsid
  fsid="$(cat /proc/sys/kernel/random/uuid)"

  # $name, $cluster etc. below are Ceph metavariables, not shell ones.
  cat >"$dir/ceph.conf" <<EOF
[global]
fsid = $fsid
mon host = v1:127.0.0.1:$mon_port
mon initial members = a
public addr = 127.0.0.1
cluster addr = 127.0.0.1
auth cluster required = none
auth service required = none
auth client required = none
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon warn on pool no redundancy = false
mon max pg per osd = 1000
run dir = $dir/run
log file = $dir/log/\$name.log
pid file = $dir/run/\$name.pid
keyring = $dir/keyring
setuser match path = $dir/\$type.\$id
crash dir = $dir/crash
mon data avail warn = 1
mon data avail crit = 0
# Commit monitor changes (pool and OSD map updates) quickly: boot waits on dozens of them.
paxos propose interval = 0.05
paxos min wait = 0.01

[mon.a]
mon data = $dir/mon.a

[osd.0]
osd data = $dir/osd.0
osd objectstore = memstore
memstore device bytes = $ram
osd journal size = 0
# We place osd.0 in the CRUSH map ourselves. Without these the OSD sends commands to the
# monitor while it boots, and one that leaves before the monmap has arrived carries fsid
# 00000000-... and fails with "wrong fsid" (EPERM), which kills the OSD (seen here ~1 in 5).
osd crush update on start = false
osd class update on start = false

[client.rgw.a]
rgw frontends = beast endpoint=127.0.0.1:$port
rgw dns name = localhost
rgw data = $dir/rgw
EOF

  "$CEPH_BIN/ceph-authtool" --create-keyring "$dir/keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
  "$CEPH_BIN/monmaptool" --create --add a "v1:127.0.0.1:$mon_port" --fsid "$fsid" "$dir/monmap" >/dev/null
  "$CEPH_BIN/ceph-mon" -c "$dir/ceph.conf" --mkfs -i a --monmap "$dir/monmap" --keyring "$dir/keyring"
  start_daemon mon.a "$CEPH_BIN/ceph-mon" -c "$dir/ceph.conf" -i a

  until ceph_cli -s >/dev/null 2>&1; do
    check_deadline "waiting for the monitor"
    sleep 0.2
  done
  log "start: monitor up on 127.0.0.1:$mon_port after $(($(now_ms) - t0)) ms"

  local osd_id osd_uuid
  # With a fixed uuid "osd create" is idempotent, so a retried call cannot allocate a second
  # id; the OSD must then be made with the same uuid or the monitor refuses its boot.
  osd_uuid="$(cat /proc/sys/kernel/random/uuid)"
  osd_id="$(ceph_retry osd create "$osd_uuid" | tail -n 1)"
  [[ "$osd_id" == "0" ]] || { log "start: expected osd id 0, got '$osd_id'"; false; }
  "$CEPH_BIN/ceph-osd" -c "$dir/ceph.conf" -i 0 --mkfs --osd-uuid "$osd_uuid" 2>"$dir/log/osd.0.mkfs.stderr.log" >/dev/null
  ceph_retry osd crush add-bucket localhost host >/dev/null
  ceph_retry osd crush move localhost root=default >/dev/null
  ceph_retry osd crush add osd.0 1.0 host=localhost >/dev/null
  start_daemon osd.0 "$CEPH_BIN/ceph-osd" -c "$dir/ceph.conf" -i 0

  until ceph_cli osd stat 2>/dev/null | grep -q ' 1 up'; do
    check_deadline "waiting for the OSD"
    sleep 0.2
  done
  log "start: osd up after $(($(now_ms) - t0)) ms"

  start_daemon client.rgw.a "$CEPH_BIN/radosgw" -c "$dir/ceph.conf" -n client.rgw.a

  # HTTP answers once radosgw has created its pools and started beast.
  until http_status "$port" >/dev/null; do
    check_deadline "waiting for radosgw HTTP on 127.0.0.1:$port"
    sleep 0.2
  done
  log "start: radosgw answers HTTP after $(($(now_ms) - t0)) ms"

  timeout "$(remaining)" "$CEPH_BIN/radosgw-admin" -c "$dir/ceph.conf" user create \
    --uid=test --display-name=test --access-key="$access_key" --secret="$secret_key" >/dev/null

  trap - ERR
  log "start: ready after $(($(now_ms) - t0)) ms"
  echo "listening on http://127.0.0.1:$port"
}

# Prints the HTTP status code of GET / on 127.0.0.1:$1; fails when nothing valid answers.
http_status() {
  local line
  exec 3<>"/dev/tcp/127.0.0.1/$1" || return 1
  printf 'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' >&3
  IFS= read -r -t 5 line <&3 || { exec 3>&-; return 1; }
  exec 3>&-
  [[ "$line" =~ ^HTTP/1\.[01]\ ([0-9]{3}) ]] || return 1
  echo "${BASH_REMATCH[1]}"
} 2>/dev/null

main() {
  (($# >= 1)) || usage
  local cmd="$1"
  shift
  case "$cmd" in
    start)
      (($# == 4 || $# == 5)) || usage
      do_start "$@"
      ;;
    stop)
      (($# == 1)) || usage
      do_stop "$1"
      ;;
    gc)
      (($# == 1)) || usage
      do_gc "$1"
      ;;
    *) usage ;;
  esac
}

main "$@"
