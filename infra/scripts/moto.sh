#!/usr/bin/env bash
# Start or stop a moto server (the local AWS) on a loopback port.
#   infra/scripts/moto.sh start [PORT]   prints the endpoint URL once it answers
#   infra/scripts/moto.sh stop  [PORT]
#   infra/scripts/moto.sh iam   [PORT]   turns IAM enforcement on (see below)
# Uses moto_server from PATH; where it is missing, installs moto[server]
# into .venv/ (ignored by git). State lives in .run/moto-PORT.{pid,log}.
set -euo pipefail
cd "$(dirname "$0")/../.."
cmd=${1:?usage: moto.sh start|stop|iam [port]}
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
iam)
  # Creates an administrator user (allowed everything: the tests set up and
  # inspect moto with it), prints its access key id and secret, and then
  # turns IAM access control on: moto's INITIAL_NO_AUTH_ACTION_COUNT set to
  # 0 through /moto-api/reset-auth, so from here on every call must be
  # signed by a known key and allowed by the caller's policies
  # (docs.getmoto.org, "IAM-like Access Control"). The functions under test
  # then run with their own roles (infra/testenv FunctionRole).
  ep="http://127.0.0.1:$port"
  # Until enforcement is on, moto reads only the service from the signature.
  auth='Authorization: AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=0'
  iam() { curl -fsS -H "$auth" --data "Version=2010-05-08" "$@" "$ep/"; }
  iam --data "Action=CreateUser&UserName=gitpulse-test-admin" >/dev/null
  iam --data "Action=PutUserPolicy&UserName=gitpulse-test-admin&PolicyName=tests" \
    --data-urlencode 'PolicyDocument={"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}' >/dev/null
  key=$(iam --data "Action=CreateAccessKey&UserName=gitpulse-test-admin")
  id=$(sed -n 's|.*<AccessKeyId>\([^<]*\)</AccessKeyId>.*|\1|p' <<<"$key")
  secret=$(sed -n 's|.*<SecretAccessKey>\([^<]*\)</SecretAccessKey>.*|\1|p' <<<"$key")
  [ -n "$id" ] && [ -n "$secret" ] || { echo "moto: no access key in $key" >&2; exit 1; }
  curl -fsS -o /dev/null -H "Content-Type: text/plain" --data 0 "$ep/moto-api/reset-auth"
  echo "$id $secret"
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
*) echo "usage: moto.sh start|stop|iam [port]" >&2; exit 2 ;;
esac
