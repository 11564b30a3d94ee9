#!/usr/bin/env bash
# Starts (bootstrapping on first use) a single-node Ceph RADOS Gateway on loopback for tests:
# 1 mon, 1 OSD (bluestore in a sparse file, or OSD_STORE=memstore), radosgw (beast) on
# 127.0.0.1:$RGW_PORT, and an S3 user with fixed keys. Idempotent: if the cluster in $CEPH_DIR
# already runs, it only prints the environment.
#
#   eval "$(scripts/ceph/rgw-start.sh)"      # stdout: export S3_ENDPOINT=... lines only
#
# Environment (defaults):
#   CEPH_DIR=/tmp/tandem-ceph   state folder (conf, keyrings, mon store, OSD block file, logs)
#   RGW_PORT=7480  MON_PORT=3300  OSD_PORT_MIN=6800 (the OSD binds 4 ports in MIN..MIN+9)
#   OSD_STORE=bluestore|memstore   (memstore: in RAM, survives only clean stops)
#   OSD_BLOCK_SIZE=10737418240     (bluestore sparse block file size, bytes)
#   START_TIMEOUT=180              seconds for the cluster to answer S3 (apt not included)
#   CEPH_FRESH=1                   stop and purge $CEPH_DIR first
#   RGW_ACCESS_KEY / RGW_SECRET_KEY  S3 credentials of the test user
# Logs and progress go to stderr; daemon logs are in $CEPH_DIR/log/.
set -euo pipefail
exec 3>&1 1>&2   # fd 3 = the caller's stdout (env lines only); everything else to stderr

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"

RGW_UID=tandem-ci
ACCESS_KEY=${RGW_ACCESS_KEY:-tandem-ci-access}
SECRET_KEY=${RGW_SECRET_KEY:-tandem-ci-secret-0123456789abcdef}
START_TIMEOUT=${START_TIMEOUT:-180}
PARAMS=$CEPH_DIR/params
MARKER=$CEPH_DIR/bootstrapped

print_env() {
    log "S3 ready on http://127.0.0.1:$RGW_PORT (CEPH_DIR=$CEPH_DIR)"
    printf 'export S3_ENDPOINT=http://127.0.0.1:%s\nexport S3_ACCESS_KEY=%s\nexport S3_SECRET_KEY=%s\nexport S3_REGION=default\n' \
        "$RGW_PORT" "$ACCESS_KEY" "$SECRET_KEY" >&3
}

# ---------------------------------------------------------------- fresh start requested
if [[ ${CEPH_FRESH:-0} == 1 && -e $CEPH_DIR ]]; then
    log "CEPH_FRESH=1: stopping and purging $CEPH_DIR"
    "$here/rgw-stop.sh" --purge 3>&-
fi

# ---------------------------------------------------------------- parameters
# MON_PORT, the store and the fsid are fixed at bootstrap (the monmap holds the mon address);
# the RGW port and the OSD port range may change from one start to the next.
if [[ -f $PARAMS ]]; then
    want_mon_port=${MON_PORT:-}; want_store=${OSD_STORE:-}; want_rgw_port=${RGW_PORT:-}
    # shellcheck disable=SC1090
    . "$PARAMS"
    if [[ -n $want_mon_port && $want_mon_port != "$MON_PORT" ]]; then
        die "$CEPH_DIR was bootstrapped with MON_PORT=$MON_PORT (asked: $want_mon_port); use the same, another CEPH_DIR, or CEPH_FRESH=1"
    fi
    if [[ -n $want_store && $want_store != "$OSD_STORE" ]]; then
        die "$CEPH_DIR was bootstrapped with OSD_STORE=$OSD_STORE (asked: $want_store); use CEPH_FRESH=1 to change it"
    fi
    if [[ -n $want_rgw_port ]]; then RGW_PORT=$want_rgw_port; fi
fi
MON_PORT=${MON_PORT:-3300}
RGW_PORT=${RGW_PORT:-7480}
OSD_PORT_MIN=${OSD_PORT_MIN:-6800}
OSD_PORT_MAX=$((OSD_PORT_MIN + 9))
OSD_STORE=${OSD_STORE:-bluestore}
OSD_BLOCK_SIZE=${OSD_BLOCK_SIZE:-10737418240}
[[ $OSD_STORE == bluestore || $OSD_STORE == memstore ]] || die "OSD_STORE must be bluestore or memstore (got '$OSD_STORE')"
for v in MON_PORT RGW_PORT OSD_PORT_MIN; do
    [[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a port number (got '${!v}')"
done

# ---------------------------------------------------------------- already running?
all_running() {
    local d
    for d in "${DAEMONS[@]}"; do daemon_pid "$d" >/dev/null || return 1; done
}
if [[ -f $MARKER ]] && all_running; then
    running_port=$(sed -n 's/^rgw frontends = beast endpoint=127.0.0.1:\([0-9]*\)$/\1/p' "$CONF")
    if [[ $running_port != "$RGW_PORT" ]]; then
        die "the cluster in $CEPH_DIR already runs with RGW_PORT=$running_port (asked: $RGW_PORT); stop it first (scripts/ceph/rgw-stop.sh)"
    fi
    log "cluster in $CEPH_DIR already running (mon $(daemon_pid mon), osd $(daemon_pid osd), rgw $(daemon_pid rgw))"
    print_env
    exit 0
fi

# ---------------------------------------------------------------- packages
need_pkgs=()
command -v ceph-mon >/dev/null || need_pkgs+=(ceph-mon)
command -v ceph-osd >/dev/null || need_pkgs+=(ceph-osd)
command -v radosgw >/dev/null && command -v radosgw-admin >/dev/null || need_pkgs+=(radosgw)
command -v curl >/dev/null || need_pkgs+=(curl)
if ((${#need_pkgs[@]})); then
    sudo=()
    if [[ $(id -u) != 0 ]]; then
        command -v sudo >/dev/null || die "not root and no sudo: install ${need_pkgs[*]} first"
        sudo=(sudo)
    fi
    log "installing ${need_pkgs[*]} (apt-get, --no-install-recommends)"
    apt_install() {
        "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need_pkgs[@]}" </dev/null 3>&-
    }
    if ! apt_install; then
        log "apt-get install failed; running apt-get update and retrying"
        "${sudo[@]}" apt-get update -q </dev/null 3>&- || die "apt-get update failed"
        apt_install || die "apt-get install ${need_pkgs[*]} failed"
    fi
    log "packages installed"
fi
for c in ceph ceph-authtool monmaptool ceph-mon ceph-osd radosgw radosgw-admin curl; do
    command -v "$c" >/dev/null || die "'$c' not found after installing the packages"
done

# ---------------------------------------------------------------- state folder
if [[ -e $CEPH_DIR && ! -f $CONF ]] && [[ -n $(find "$CEPH_DIR" ! -type d -print -quit 2>/dev/null) ]]; then
    die "$CEPH_DIR holds files but no ceph.conf: not a cluster of this script; choose another CEPH_DIR"
fi
if [[ -f $CONF && ! -f $MARKER ]]; then
    log "$CEPH_DIR holds an unfinished bootstrap: stopping its daemons and starting over"
    "$here/rgw-stop.sh" --purge 3>&-
    unset FSID
fi
bootstrap=0
[[ -f $MARKER ]] || bootstrap=1

# ---------------------------------------------------------------- ports (pitfall 8)
port_busy() { timeout 2 bash -c "exec 9<>/dev/tcp/127.0.0.1/$1" 2>/dev/null; }
port_owner() { # prints e.g. "ceph-mon" pid=123, or "another process"
    local o
    o=$(ss -ltnpH "sport = :$1" 2>/dev/null | sed -n 's/.*users:((\("[^"]*"\),\(pid=[0-9]*\).*/\1 \2/p' | head -1)
    echo "${o:-another process}"
}
refuse_port() { # port variable
    die "port 127.0.0.1:$1 is already in use by $(port_owner "$1"); set $2 to a free port (or, if it is another test cluster, stop it: CEPH_DIR=<its dir> scripts/ceph/rgw-stop.sh)"
}
if ! daemon_pid mon >/dev/null && port_busy "$MON_PORT"; then
    if [[ $bootstrap == 0 ]]; then
        die "port 127.0.0.1:$MON_PORT (MON_PORT, fixed at bootstrap of $CEPH_DIR) is in use by $(port_owner "$MON_PORT"); stop that process, or use another CEPH_DIR"
    fi
    refuse_port "$MON_PORT" MON_PORT
fi
if ! daemon_pid rgw >/dev/null && port_busy "$RGW_PORT"; then refuse_port "$RGW_PORT" RGW_PORT; fi
if ! daemon_pid osd >/dev/null; then
    free=0
    for ((p = OSD_PORT_MIN; p <= OSD_PORT_MAX; p++)); do port_busy "$p" || free=$((free + 1)); done
    ((free >= 4)) || die "the OSD needs 4 free ports in 127.0.0.1:$OSD_PORT_MIN-$OSD_PORT_MAX, only $free are free; set OSD_PORT_MIN to another range"
fi

mkdir -p "$CEPH_DIR" "$RUN" "$LOGDIR" "$CEPH_DIR/mon" "$CEPH_DIR/osd" "$CEPH_DIR/rgw" "$CEPH_DIR/crash"

# ---------------------------------------------------------------- configuration
FSID=${FSID:-$(cat /proc/sys/kernel/random/uuid)}
cat >"$PARAMS" <<EOF
FSID=$FSID
MON_PORT=$MON_PORT
RGW_PORT=$RGW_PORT
OSD_STORE=$OSD_STORE
EOF
cat >"$CONF" <<EOF
# Generated by scripts/ceph/rgw-start.sh; rewritten at every start.
[global]
fsid = $FSID
mon initial members = a
mon host = v2:127.0.0.1:$MON_PORT
public addr = 127.0.0.1
cluster addr = 127.0.0.1
public network = 127.0.0.1/32
cluster network = 127.0.0.1/32
ms bind msgr1 = false
ms bind msgr2 = true
ms bind ipv6 = false
auth cluster required = cephx
auth service required = cephx
auth client required = cephx
auth allow insecure global id reclaim = false
keyring = $CEPH_DIR/keyring
run dir = $RUN
crash dir = $CEPH_DIR/crash
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon allow pool delete = true
mon warn on pool no redundancy = false
mon max pg per osd = 1000
mon data avail crit = 1
mon data avail warn = 2

[mon]
mon data = $CEPH_DIR/mon/\$id
mon cluster log file = $LOGDIR/cluster.log
log file = $LOGDIR/\$name.log
pid file = $RUN/\$name.pid
admin socket = $RUN/\$name.asok

[osd]
osd data = $CEPH_DIR/osd/\$id
keyring = $CEPH_DIR/osd/\$id/keyring
osd objectstore = $OSD_STORE
bluestore block create = true
bluestore block size = $OSD_BLOCK_SIZE
memstore device bytes = 4294967296
osd fast shutdown = false
osd memory target = 1073741824
ms bind port min = $OSD_PORT_MIN
ms bind port max = $OSD_PORT_MAX
log file = $LOGDIR/\$name.log
pid file = $RUN/\$name.pid
admin socket = $RUN/\$name.asok

[client.rgw.ci]
rgw frontends = beast endpoint=127.0.0.1:$RGW_PORT
rgw thread pool size = 64
rgw dns name = localhost
rgw data = $CEPH_DIR/rgw
rgw enable ops log = false
log file = $LOGDIR/\$name.log
pid file = $RUN/\$name.pid
admin socket = $RUN/\$name.asok
EOF

# ---------------------------------------------------------------- helpers
deadline=$((SECONDS + START_TIMEOUT))
cephc() { timeout 30 ceph -c "$CONF" --connect-timeout 20 "$@" </dev/null 3>&-; }

fail_with_log() { # daemon message
    local f
    f=$(logfile "$1")
    {
        printf 'ERROR: %s\n' "$2"
        for f in "$LOGDIR/${CEPH_NAME[$1]}.mkfs.log" "$LOGDIR/${CEPH_NAME[$1]}.launch.log" "$f"; do
            if [[ -s $f ]]; then printf -- '--- last lines of %s:\n' "$f"; tail -n 20 "$f"; fi
        done
        printf 'The daemons started so far are left running for inspection; stop them with: CEPH_DIR=%s %s/rgw-stop.sh\n' "$CEPH_DIR" "$here"
    } >&2
    exit 1
}

# launch D CMD...: starts a daemon (it forks into the background and writes its pid file).
launch() {
    local d=$1
    shift
    rm -f "$(pidfile "$d")"
    log "starting ${CEPH_NAME[$d]}"
    "$@" </dev/null >>"$LOGDIR/${CEPH_NAME[$d]}.launch.log" 2>&1 3>&- \
        || fail_with_log "$d" "${COMM[$d]} failed to start"
}

# wait_for D WHAT CHECK...: polls CHECK until it succeeds; fails on the deadline or if D died.
wait_for() {
    local d=$1 what=$2 started=$SECONDS
    shift 2
    until "$@" >/dev/null 2>&1; do
        if ((SECONDS - started > 5)) && ! daemon_pid "$d" >/dev/null; then
            fail_with_log "$d" "${COMM[$d]} exited while waiting for $what"
        fi
        ((SECONDS < deadline)) || fail_with_log "$d" "timed out after ${START_TIMEOUT}s waiting for $what (raise START_TIMEOUT if the machine is just slow)"
        sleep 0.5
    done
    log "$what"
}

osd_up() { cephc osd dump 2>/dev/null | grep -q '^osd\.0 up'; }
s3_anon() { [[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$RGW_PORT/") == 200 ]]; }
s3_signed() {
    [[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 5 --aws-sigv4 "aws:amz:default:s3" \
        -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" --user "$ACCESS_KEY:$SECRET_KEY" "http://127.0.0.1:$RGW_PORT/") == 200 ]]
}

# ---------------------------------------------------------------- mon
if [[ $bootstrap == 1 ]]; then
    log "bootstrapping a new cluster in $CEPH_DIR (fsid $FSID, store $OSD_STORE)"
    rm -rf "${CEPH_DIR:?}/mon/a" "${CEPH_DIR:?}/osd/0" "$CEPH_DIR/keyring" "$CEPH_DIR/monmap"
    monmaptool --create --fsid "$FSID" --addv a "[v2:127.0.0.1:$MON_PORT]" "$CEPH_DIR/monmap" >/dev/null 3>&-
    ceph-authtool --create-keyring "$CEPH_DIR/keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
    ceph-authtool "$CEPH_DIR/keyring" --gen-key -n client.admin \
        --cap mon 'allow *' --cap osd 'allow *' --cap mds 'allow *' --cap mgr 'allow *' >/dev/null
    ceph-authtool "$CEPH_DIR/keyring" --gen-key -n client.rgw.ci --cap mon 'allow rw' --cap osd 'allow rwx' >/dev/null
    chmod 600 "$CEPH_DIR/keyring"
    ceph-mon -c "$CONF" --mkfs -i a --monmap "$CEPH_DIR/monmap" --keyring "$CEPH_DIR/keyring" \
        </dev/null >>"$LOGDIR/mon.a.mkfs.log" 2>&1 3>&- || fail_with_log mon "ceph-mon --mkfs failed (see $LOGDIR/mon.a.mkfs.log)"
fi
if daemon_pid mon >/dev/null; then
    log "mon.a already running"
else
    launch mon ceph-mon -c "$CONF" -i a
fi
wait_for mon "mon.a answers" cephc mon stat

# ---------------------------------------------------------------- osd
if [[ $bootstrap == 1 ]]; then
    osd_uuid=$(cat /proc/sys/kernel/random/uuid)
    osd_key=$(ceph-authtool --gen-print-key)
    osd_id=$(printf '{"cephx_secret": "%s"}' "$osd_key" | timeout 30 ceph -c "$CONF" --connect-timeout 20 osd new "$osd_uuid" -i - 3>&-) \
        || fail_with_log mon "ceph osd new failed"
    [[ $osd_id == 0 ]] || die "expected the new OSD to get id 0, got '$osd_id'"
    mkdir -p "$CEPH_DIR/osd/0"
    ceph-authtool --create-keyring "$CEPH_DIR/osd/0/keyring" --name osd.0 --add-key "$osd_key" >/dev/null
    log "creating osd.0 ($OSD_STORE)"
    ceph-osd -c "$CONF" -i 0 --mkfs --osd-uuid "$osd_uuid" \
        </dev/null >>"$LOGDIR/osd.0.mkfs.log" 2>&1 3>&- || fail_with_log osd "ceph-osd --mkfs failed (see $LOGDIR/osd.0.mkfs.log)"
fi
if daemon_pid osd >/dev/null; then
    log "osd.0 already running"
else
    launch osd ceph-osd -c "$CONF" -i 0
fi
wait_for osd "osd.0 up" osd_up

# ---------------------------------------------------------------- radosgw
if daemon_pid rgw >/dev/null; then
    log "radosgw already running"
else
    launch rgw radosgw -c "$CONF" -n client.rgw.ci
fi
wait_for rgw "radosgw answers S3 on 127.0.0.1:$RGW_PORT" s3_anon

# ---------------------------------------------------------------- S3 user
if [[ $bootstrap == 1 ]] || ! s3_signed; then
    rgwadmin() { timeout 60 radosgw-admin -c "$CONF" "$@" </dev/null 3>&-; }
    if rgwadmin user info --uid="$RGW_UID" >/dev/null 2>&1; then
        log "S3 user $RGW_UID exists; (re)setting its key"
        rgwadmin key create --uid="$RGW_UID" --key-type=s3 --access-key="$ACCESS_KEY" --secret-key="$SECRET_KEY" >/dev/null \
            || die "radosgw-admin key create failed"
    else
        log "creating S3 user $RGW_UID"
        rgwadmin user create --uid="$RGW_UID" --display-name="Tandem CI" \
            --access-key="$ACCESS_KEY" --secret-key="$SECRET_KEY" >/dev/null \
            || die "radosgw-admin user create failed"
    fi
fi
wait_for rgw "signed S3 request accepted" s3_signed
touch "$MARKER"
print_env
