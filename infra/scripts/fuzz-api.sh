#!/usr/bin/env bash
# make fuzz-api: fuzz the data API handler (FuzzAPI) against moto server,
# started on a free loopback port and stopped again, pass or fail.
#   FUZZTIME  how long or how many inputs (default 10000x)
set -euo pipefail
cd "$(dirname "$0")/../.."

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
trap 'infra/scripts/moto.sh stop "$port"' EXIT INT TERM
endpoint=$(infra/scripts/moto.sh start "$port") # a failed start stops here (set -e)

export GITPULSE_TEST_AWS_ENDPOINT="$endpoint"
export GITPULSE_TEST_REQUIRE=1
go test -run '^$' -fuzz '^FuzzAPI$' -fuzztime "${FUZZTIME:-10000x}" ./shared/api/
