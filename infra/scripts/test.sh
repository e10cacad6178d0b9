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

echo "== moto server on port $port"
endpoint=$(infra/scripts/moto.sh start "$port")

export GITPULSE_TEST_AWS_ENDPOINT="$endpoint"
export GITPULSE_TEST_RIE="$PWD/bin/aws-lambda-rie"
export GITPULSE_TEST_REQUIRE=1 # integration tests fail, not skip, when their services are missing

echo "== go test"
go test -count=1 -timeout 10m ${GOTESTFLAGS:-} ./...
