#!/usr/bin/env bash
# Stops the test Ceph cluster started by rgw-start.sh: SIGTERM to radosgw, then the OSD, then
# the mon (by pid file), SIGKILL after STOP_TIMEOUT (60) seconds each, and waits until each is
# gone (a zombie counts as gone: pitfall 7).
#   scripts/ceph/rgw-stop.sh [--purge]     --purge also removes $CEPH_DIR
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"

purge=0
case ${1:-} in
    --purge) purge=1 ;;
    "") ;;
    *) die "usage: $0 [--purge]" ;;
esac
STOP_TIMEOUT=${STOP_TIMEOUT:-60}

stop_daemon() {
    local d=$1 pid start
    if ! pid=$(daemon_pid "$d"); then
        rm -f "$(pidfile "$d")"
        return 0
    fi
    log "stopping ${CEPH_NAME[$d]} (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    start=0   # 0.2 s ticks
    while pid_alive "$pid" "${COMM[$d]}"; do
        if ((start++ >= STOP_TIMEOUT * 5)); then
            log "${CEPH_NAME[$d]} still running after ${STOP_TIMEOUT}s: SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
            local k=0
            while pid_alive "$pid" "${COMM[$d]}"; do
                ((k++ < 150)) || die "${CEPH_NAME[$d]} (pid $pid) survives SIGKILL"
                sleep 0.2
            done
            break
        fi
        sleep 0.2
    done
    rm -f "$(pidfile "$d")"
    log "${CEPH_NAME[$d]} stopped"
}

if [[ -d $CEPH_DIR ]]; then
    for d in rgw osd mon; do stop_daemon "$d"; done
else
    log "$CEPH_DIR does not exist: nothing to stop"
fi

if [[ $purge == 1 && -e $CEPH_DIR ]]; then
    if [[ -f $CONF || -z $(find "$CEPH_DIR" ! -type d -print -quit) ]]; then
        rm -rf "${CEPH_DIR:?}"
        log "removed $CEPH_DIR"
    else
        die "$CEPH_DIR holds no ceph.conf: not removing it"
    fi
fi
