#!/usr/bin/env bash
# Print the path of a working aws CLI: from PATH, or else installed into
# .venv/ (ignored by git) from PyPI on first use, as moto.sh does for moto.
# Tests use it to run infra/localstack/init-gitpulse.sh against moto.
set -euo pipefail
cd "$(dirname "$0")/../.."
if command -v aws >/dev/null 2>&1 && aws --version >/dev/null 2>&1; then
  command -v aws; exit 0
fi
if [ ! -x .venv/bin/aws ]; then
  echo "aws CLI not found; installing awscli into .venv" >&2
  [ -x .venv/bin/pip ] || python3 -m venv .venv >&2
  .venv/bin/pip install --quiet awscli >&2
fi
echo "$PWD/.venv/bin/aws"
