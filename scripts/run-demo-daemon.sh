#!/usr/bin/env bash
# `make run`: tandemd in the foreground on the embedded default (Config/demo), with a note on
# how to talk to it from another terminal. No root and no /etc needed.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=.build/release
socket="$PWD/.tandem-demo/control.sock"
mkdir -p .tandem-demo
cat <<NOTE
tandemd starts on the embedded default (Config/demo/tandem.yaml):
  repository  .tandem-demo/repository     state  .tandem-demo/state
  tenant demo backs up Sources/ every minute, and a command's output every 5 minutes.

From another terminal:
  export TANDEM_SOCKET=$socket
  $bin/tandemctl status
  $bin/tandemctl backup now --tenant demo
  $bin/tandemctl snapshots --tenant demo
  $bin/tandemctl restore --tenant demo latest --target /tmp/demo-restore
  $bin/tandemctl policy simulate --tenant demo --days 2
  $bin/tandemctl audit; $bin/tandemctl audit verify
  curl -s --unix-socket $socket http://tandemd/v1/status
  curl -s http://127.0.0.1:9464/metrics
  kill -HUP \$(pgrep -f 'tandemd --config')     # reload Config/demo
Ctrl-C (SIGINT) or SIGTERM stops it cleanly.

NOTE
exec "$bin/tandemd" --config Config/demo/tandem.yaml
