#!/usr/bin/env bash
# make test: start what the tests need (moto server on a free loopback port,
# the Runtime Interface Emulator binary), run the lint, the SAM CLI's
# validate and build (infra/scripts/sam.sh check), every test, and stop
# moto again, pass or fail. The GitLab simulator runs inside the tests; the
# artifacts sam build produced run under the emulator (infra/sambuild).
set -euo pipefail
cd "$(dirname "$0")/../.."

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
trap 'infra/scripts/moto.sh stop "$port"' EXIT INT TERM

echo "== lint"
make --no-print-directory lint

echo "== SAM CLI: validate, build"
infra/scripts/sam.sh check
export GITPULSE_TEST_SAM_BUILD="$PWD/.aws-sam/build" GITPULSE_TEST_SAM_HOST_BUILD="$PWD/.aws-sam/build-host"

echo "== Runtime Interface Emulator"
make --no-print-directory rie >/dev/null

echo "== aws CLI (for the LocalStack init script test)"
export GITPULSE_TEST_AWS_CLI=$(infra/scripts/awscli.sh)

echo "== Chromium (for the dashboard's browser test)"
GITPULSE_TEST_CHROMIUM=$(infra/scripts/chromium.sh) # set -e stops here if it fails
export GITPULSE_TEST_CHROMIUM

echo "== moto server on port $port"
endpoint=$(infra/scripts/moto.sh start "$port")

export GITPULSE_TEST_AWS_ENDPOINT="$endpoint"

echo "== IAM enforced on moto; the functions run with their roles from the expanded template"
read -r GITPULSE_TEST_AWS_ACCESS_KEY_ID GITPULSE_TEST_AWS_SECRET_ACCESS_KEY < <(infra/scripts/moto.sh iam "$port")
export GITPULSE_TEST_AWS_ACCESS_KEY_ID GITPULSE_TEST_AWS_SECRET_ACCESS_KEY
mkdir -p .run
python3 infra/templatecheck/expand.py template.yaml > .run/template.expanded.json
export GITPULSE_TEST_EXPANDED_TEMPLATE="$PWD/.run/template.expanded.json"
export GITPULSE_TEST_IAM_USES="$PWD/.run/iam-uses"
rm -rf "$GITPULSE_TEST_IAM_USES" && mkdir -p "$GITPULSE_TEST_IAM_USES"
export GITPULSE_TEST_RIE="$PWD/bin/aws-lambda-rie"
export GITPULSE_TEST_REQUIRE=1 # integration tests fail, not skip, when their services are missing

echo "== go test"
go test -count=1 -timeout 15m ${GOTESTFLAGS:-} ./...

echo "== every granted call made by some test under IAM"
GITPULSE_TEST_IAM_USES_DONE=1 go test -count=1 -run '^TestEveryUseIsExercised$' -v ./infra/templatecheck/ | grep -v '^=== RUN'
