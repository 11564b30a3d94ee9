# Shared helpers for rgw-start.sh / rgw-stop.sh. Sourced, not executed.
# shellcheck shell=bash

CEPH_DIR=${CEPH_DIR:-/tmp/tandem-ceph}
CEPH_DIR=${CEPH_DIR%/}
[[ $CEPH_DIR == /* ]] || CEPH_DIR=$PWD/$CEPH_DIR   # the daemons chdir to /
CONF=$CEPH_DIR/ceph.conf
RUN=$CEPH_DIR/run
LOGDIR=$CEPH_DIR/log

# Daemon table: logical name, ceph $name (pid file / log name), process comm.
# shellcheck disable=SC2034  # used by the scripts that source this file
DAEMONS=(mon osd rgw)
declare -A CEPH_NAME=([mon]=mon.a [osd]=osd.0 [rgw]=client.rgw.ci)
declare -A COMM=([mon]=ceph-mon [osd]=ceph-osd [rgw]=radosgw)

_t0=${_t0:-$EPOCHREALTIME}
elapsed() { awk -v a="$_t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }
log() { printf '[ceph %5ss] %s\n' "$(elapsed)" "$*" >&2; }
die() { printf 'ERROR: %s\n' "$*" >&2; exit 1; }

pidfile() { echo "$RUN/${CEPH_NAME[$1]}.pid"; }
logfile() { echo "$LOGDIR/${CEPH_NAME[$1]}.log"; }

# pid_alive PID COMM: the process exists, is not a zombie (pitfall 7: PID 1 here reaps
# late, and kill -0 succeeds on a zombie), has the expected comm and runs with our conf.
pid_alive() {
    local pid=$1 comm=$2 stat st
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    stat=$(cat "/proc/$pid/stat" 2>/dev/null) || return 1
    st=${stat##*) }      # fields after "(comm) "
    st=${st%% *}
    [[ $st != Z && $st != X ]] || return 1
    [[ $(cat "/proc/$pid/comm" 2>/dev/null) == "$comm" ]] || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$CONF"
}

# daemon_pid D: prints the pid of daemon D if it is alive, else fails.
daemon_pid() {
    local pf pid
    pf=$(pidfile "$1")
    [[ -s $pf ]] || return 1
    pid=$(tr -dc '0-9' <"$pf")
    pid_alive "$pid" "${COMM[$1]}" || return 1
    echo "$pid"
}
