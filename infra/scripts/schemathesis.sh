#!/usr/bin/env bash
# make fuzz-schema: schemathesis (pinned; installed into .venv/schemathesis
# when missing) against a running `make run` stack, every check on, with
# the hooks of infra/schemathesis/hooks.py (a generated well-formed cursor
# is replaced by a real one of the same request). Reads API_URL and
# API_KEY from .run/local.env unless set.
#   EXAMPLES  examples per operation and phase (default 150: about 4,000 cases)
#   ARGS      more schemathesis flags (--seed N, -w 2, ...)
set -euo pipefail
cd "$(dirname "$0")/../.."
version=4.32.5
venv=.venv/schemathesis

if [ -z "${API_KEY:-}" ] || [ -z "${API_URL:-}" ]; then
  if [ ! -f .run/local.env ]; then
    echo "fuzz-schema: no running stack: start \`make run\` in another terminal, or set API_URL and API_KEY (an admin key)" >&2
    exit 2
  fi
  # shellcheck disable=SC1091
  . .run/local.env
fi
if ! curl -fsS -o /dev/null "$API_URL/api/v1/health/live"; then
  echo "fuzz-schema: $API_URL does not answer /api/v1/health/live: is \`make run\` running?" >&2
  exit 2
fi
if [ ! -x "$venv/bin/schemathesis" ] || ! "$venv/bin/schemathesis" --version | grep -q "$version"; then
  echo "fuzz-schema: installing schemathesis $version into $venv" >&2
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install --quiet "schemathesis==$version" >&2
fi

export GITPULSE_SCHEMATHESIS_URL="$API_URL" API_KEY
export PYTHONPATH="$PWD/infra/schemathesis${PYTHONPATH:+:$PYTHONPATH}" SCHEMATHESIS_HOOKS=hooks
exec "$venv/bin/schemathesis" run "$API_URL/api/v1/openapi.json" \
  -H "Authorization: Bearer $API_KEY" \
  --checks all --max-examples "${EXAMPLES:-150}" --continue-on-failure \
  ${ARGS:-}
