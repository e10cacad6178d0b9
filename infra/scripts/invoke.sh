#!/usr/bin/env bash
# make invoke-<function> [EVENT=events/...]: build the function for this
# machine, run it under the Lambda Runtime Interface Emulator with the local
# stack's environment (written by `make run`), post the event and print the
# response, the way `sam local invoke` would.
set -euo pipefail
cd "$(dirname "$0")/../.."
fn=${1:?usage: invoke.sh <function> [event-file]}
event=${2:-}
if [ ! -d "functions/$fn" ]; then
  echo "no function '$fn'; functions: $(ls functions | tr '\n' ' ')" >&2; exit 2
fi
if [ -z "$event" ]; then
  # The api's default is its health event; the others' their first.
  for candidate in events/"$fn"-health.json events/"$fn"-createSecret.json events/"$fn"-*.json; do
    [ -f "$candidate" ] && { event=$candidate; break; }
  done
  [ -n "$event" ] || { echo "no event given and none in events/ for $fn; pass EVENT=events/<file>.json" >&2; exit 2; }
fi
[ -f "$event" ] || { echo "event file $event does not exist" >&2; exit 2; }
run_dir=${GITPULSE_RUN_DIR:-.run} # make run's state folder
if [ ! -f "$run_dir/local.env" ]; then
  echo "the local stack is not running: start \`make run\` in another terminal first" >&2; exit 1
fi
# shellcheck disable=SC1091
source "$run_dir/local.env"

out=bin/host/$fn
mkdir -p "$out"
CGO_ENABLED=0 go build -tags lambda.norpc -trimpath -ldflags='-s -w' -o "$out/bootstrap" "./functions/$fn"
# The emulator runs the function behind infra/lambdatrace, which gives every
# invocation a trace header as Lambda does: the emulator alone leaves
# _X_AMZN_TRACE_ID empty, the SDK then sends an empty trace header, and SNS
# (LocalStack, as AWS would) drops a publish whose AWSTraceHeader is empty.
CGO_ENABLED=0 go build -trimpath -o bin/host/lambdatrace ./infra/lambdatrace

# shellcheck source=infra/scripts/ports.sh
source infra/scripts/ports.sh
log=.run/invoke-$fn.log
rie=""
trap '[ -n "$rie" ] && { kill $rie 2>/dev/null; wait $rie 2>/dev/null || true; }' EXIT
# Two distinct ports outside the ephemeral range (see ports.sh); should
# another program still take one first, the emulator exits "address
# already in use" and the invoke starts again on two new ports.
for attempt in 1 2 3 4 5; do
  ports=$(free_ports 2)
  port=${ports%$'\n'*} runtime_port=${ports#*$'\n'}
  AWS_LAMBDA_FUNCTION_TIMEOUT=${TIMEOUT:-30} AWS_LAMBDA_FUNCTION_NAME=$fn LAMBDATRACE_BOOTSTRAP=$out/bootstrap \
    bin/aws-lambda-rie --runtime-interface-emulator-address "127.0.0.1:$port" --runtime-api-address "127.0.0.1:$runtime_port" bin/host/lambdatrace >"$log" 2>&1 &
  rie=$!
  up=""
  for _ in $(seq 1 200); do
    if (echo > /dev/tcp/127.0.0.1/"$port") 2>/dev/null; then up=1; break; fi
    kill -0 "$rie" 2>/dev/null || break
    sleep 0.05
  done
  [ -n "$up" ] && break
  wait "$rie" 2>/dev/null || true
  rie=""
  if grep -q 'address already in use' "$log"; then
    echo "port $port or $runtime_port was taken meanwhile (attempt $attempt): $(grep -m1 "address already in use" "$log"); picking two others" >&2
    continue
  fi
  echo "the emulator did not start; its log ($log):" >&2; cat "$log" >&2; exit 1
done
[ -n "$rie" ] || { echo "the emulator found no free port in 5 attempts; its log ($log):" >&2; cat "$log" >&2; exit 1; }
echo "== $fn <- $event" >&2
# Events carry placeholders for what only the running stack knows: its API
# key and the demo course's ids (written by `make run`), the token secret,
# and the version of the rotation in progress: createSecret starts one (a
# new AWSPENDING version, as Secrets Manager does), the later steps reuse it.
if grep -q '{{API_KEY}}' "$event" && [ -z "${API_KEY:-}" ]; then
  # make run writes no API_KEY when it runs with your own API_KEYS.
  echo "this event needs an API key: API_KEY=<one of your API_KEYS' keys> make invoke-$fn EVENT=$event (or make api-key NAME=me ROLE=admin for a new one)" >&2; exit 2
fi
if grep -q '{{COURSE_ID}}\|{{PROJECT_ID}}' "$event" && ! [[ "${COURSE_ID:-}" =~ ^[0-9]+$ && "${PROJECT_ID:-}" =~ ^[0-9]+$ ]]; then
  echo "this event needs the local stack's course and project, and make run has synced none yet (COURSE_ID=${COURSE_ID:-}, PROJECT_ID=${PROJECT_ID:-} in $run_dir/local.env)" >&2; exit 2
fi
VERSION=""
if grep -q '{{VERSION}}' "$event"; then
  if grep -q '"createSecret"' "$event" || [ ! -f "$run_dir/rotation-version" ]; then
    go run ./infra/rotatenow -start > "$run_dir/rotation-version"
  fi
  VERSION=$(cat "$run_dir/rotation-version")
fi
sed -e "s|{{API_KEY}}|${API_KEY:-}|g" -e "s|{{COURSE_ID}}|${COURSE_ID:-}|g" -e "s|{{PROJECT_ID}}|${PROJECT_ID:-}|g" \
    -e "s|{{TOKEN_SECRET_ARN}}|${GITLAB_TOKEN_SECRET_ARN:-}|g" -e "s|{{VERSION}}|$VERSION|g" "$event" |
  curl -sS -XPOST "http://127.0.0.1:$port/2015-03-31/functions/function/invocations" --data-binary @-
echo
echo "== function log ($log)" >&2
grep -v '^\(START\|END\|REPORT\)' "$log" | grep '^{' >&2 || true
if [ "$fn" = token-rotate ] && [ -n "$VERSION" ] && ! grep -q '"finishSecret"' "$event"; then
  # Secrets Manager would send the next steps now; run by hand, the
  # rotation stays open until they are sent.
  echo "== the rotation of version $VERSION is still open (AWSPENDING). Continue it: make rotate-now (it continues an open rotation, as Secrets Manager does), or the next step's event (events/token-rotate-setSecret.json, -testSecret, -finishSecret). Readers use AWSPENDING meanwhile." >&2
fi
