#!/usr/bin/env bash
# Start or stop a moto server (the local AWS) on a loopback port.
#   infra/scripts/moto.sh start [PORT]   prints the endpoint URL once it answers
#   infra/scripts/moto.sh stop  [PORT]
# Uses moto_server from PATH; where it is missing, installs moto[server]
# into .venv/ (ignored by git). State lives in .run/moto-PORT.{pid,log}.
set -euo pipefail
cd "$(dirname "$0")/../.."
cmd=${1:?usage: moto.sh start|stop [port]}
port=${2:-5050}
mkdir -p .run
pidfile=.run/moto-$port.pid
logfile=.run/moto-$port.log

find_moto() {
  if command -v moto_server >/dev/null 2>&1 && moto_server --help >/dev/null 2>&1; then
    command -v moto_server; return
  fi
  if [ ! -x .venv/bin/moto_server ]; then
    echo "moto_server not found; installing moto[server] into .venv" >&2
    python3 -m venv .venv >&2
    .venv/bin/pip install --quiet "moto[server]" >&2
  fi
  echo "$PWD/.venv/bin/moto_server"
}

case "$cmd" in
start)
  if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
    echo "http://127.0.0.1:$port"; exit 0
  fi
  moto=$(find_moto)
  setsid "$moto" -H 127.0.0.1 -p "$port" >"$logfile" 2>&1 < /dev/null &
  echo $! >"$pidfile"
  for _ in $(seq 1 100); do
    if curl -fsS -o /dev/null "http://127.0.0.1:$port/moto-api/" 2>/dev/null; then
      echo "http://127.0.0.1:$port"; exit 0
    fi
    if ! kill -0 "$(cat "$pidfile")" 2>/dev/null; then
      echo "moto server exited; its log:" >&2; cat "$logfile" >&2; exit 1
    fi
    sleep 0.1
  done
  echo "moto server did not answer on port $port within 10s; log in $logfile" >&2
  exit 1
  ;;
stop)
  if [ -f "$pidfile" ]; then
    pid=$(cat "$pidfile")
    kill -- "-$pid" 2>/dev/null || kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 -- "-$pid" 2>/dev/null || true
    rm -f "$pidfile"
  fi
  ;;
*) echo "usage: moto.sh start|stop [port]" >&2; exit 2 ;;
esac
