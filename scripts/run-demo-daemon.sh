#!/usr/bin/env bash
# `make run`: the three-site demo on loopback from Config/demo/: two near sites (home-a, home
# of tenant demo-a; home-b, home of demo-b; each the other's twin) and the remote site (which
# stores what they ship and is the witness of their leases). Everything lives under
# .tandem-demo/; no root and no /etc. Ctrl-C stops all three cleanly.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=.build/release
demo=.tandem-demo
mkdir -p "$demo"
if [ ! -f "$demo/certs/remote.pem" ]; then
  "$bin/tandemctl" certs init --dir "$demo/certs" --site home-a --site home-b --site remote >/dev/null
fi
pids=()
stop() {
  trap - INT TERM
  echo; echo "stopping the three sites..."
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait || true
  exit 0
}
trap stop INT TERM
for site in remote home-b home-a; do
  mkdir -p "$demo/$site"
  "$bin/tandemd" --config "Config/demo/$site.yaml" 2>"$demo/$site/tandemd.log" &
  pids+=($!)
done
cat <<NOTE
Three tandemd are starting (logs: $demo/<site>/tandemd.log):
  home-a  127.0.0.1:7411  home of demo-a (Sources/ every minute)      socket $demo/home-a/control.sock
  home-b  127.0.0.1:7412  home of demo-b (Config/ and a command)      socket $demo/home-b/control.sock
  remote  127.0.0.1:7413  stores the shipped snapshots; the witness    socket $demo/remote/control.sock
Each voter grants no lease for its first 10 s, so the first backups start after that.

From another terminal:
  export TANDEM_SOCKET=$PWD/$demo/home-a/control.sock
  $bin/tandemctl status                               # active site, epoch, lease, twin and remote state
  $bin/tandemctl backup now --tenant demo-a           # acknowledged once home-b holds it too
  $bin/tandemctl drill --tenant demo-a --site twin    # verify and restore home-b's copy; RPO/RTO
  $bin/tandemctl drill --tenant demo-a --site remote
  $bin/tandemctl failover --tenant demo-a             # planned switchover to home-b (failback to return)
  $bin/tandemctl audit verify
  curl -s http://127.0.0.1:9464/metrics | grep tandem_twin
Watch a failover: kill -9 home-a, then ask home-b:
  kill -9 ${pids[2]}; sleep 15; TANDEM_SOCKET=$PWD/$demo/home-b/control.sock $bin/tandemctl status
Ctrl-C stops all three.

NOTE
wait
