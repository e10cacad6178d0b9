#!/usr/bin/env bash
# The SAM CLI, pinned, and what `make test` checks with it.
#   infra/scripts/sam.sh path    prints the sam executable (installs it when missing)
#   infra/scripts/sam.sh check   sam validate --lint, sam validate for every
#                                samconfig environment, sam build (the
#                                template's architecture, .aws-sam/build),
#                                and sam build for this machine's
#                                architecture (.aws-sam/build-host), which
#                                the Go tests run under the emulator
#                                (infra/sambuild)
# Uses SAM CLI $SAM_VERSION from .venv/sam/ (ignored by git), installing it
# there with pip on first use (about 1-2 min), or a `sam` on PATH of exactly
# that version. It never needs AWS credentials or the network once installed.
set -euo pipefail
cd "$(dirname "$0")/../.."
SAM_VERSION=1.170.0
export SAM_CLI_TELEMETRY=0

find_sam() {
  local v
  for sam in .venv/sam/bin/sam "$(command -v sam 2>/dev/null || true)"; do
    [ -n "$sam" ] && [ -x "$sam" ] || continue
    v=$("$sam" --version 2>/dev/null | awk '{print $NF}') || continue
    if [ "$v" = "$SAM_VERSION" ]; then
      echo "$(cd "$(dirname "$sam")" && pwd)/sam"; return
    fi
  done
  echo "SAM CLI $SAM_VERSION not found; installing aws-sam-cli==$SAM_VERSION into .venv/sam" >&2
  local start=$SECONDS
  python3 -m venv .venv/sam >&2
  .venv/sam/bin/pip install --quiet --disable-pip-version-check "aws-sam-cli==$SAM_VERSION" >&2
  echo "installed SAM CLI $SAM_VERSION in $((SECONDS - start)) s" >&2
  echo "$PWD/.venv/sam/bin/sam"
}

# timed LABEL CMD...: runs CMD, prints its output only when it fails, and
# one line with the time it took.
timed() {
  local label=$1 start=$SECONDS out rc=0
  shift
  out=$("$@" 2>&1) || rc=$?
  if [ "$rc" -ne 0 ]; then
    echo "$out" >&2
    echo "FAIL $label ($((SECONDS - start)) s)" >&2
    return "$rc"
  fi
  echo "ok   $label ($((SECONDS - start)) s)"
}

host_arch() {
  case "$(uname -m)" in
    x86_64 | amd64) echo amd64 ;;
    aarch64 | arm64) echo arm64 ;;
    *) echo "unsupported machine $(uname -m)" >&2; return 1 ;;
  esac
}

case "${1:-}" in
path) find_sam ;;
check)
  sam=$(find_sam)
  timed "sam validate --lint" "$sam" validate --lint
  # Every environment samconfig.toml names ([env.command.parameters]).
  envs=$(sed -n 's/^\[\([A-Za-z0-9_-]*\)\.[A-Za-z0-9_]*\.parameters\]$/\1/p' samconfig.toml | sort -u)
  for env in $envs; do
    timed "sam validate --config-env $env" "$sam" validate --config-env "$env"
  done
  # As samconfig says (one build at a time, in source); the Makefile
  # builds for the template's architecture, arm64.
  timed "sam build (template architecture)" "$sam" build
  # The same build for this machine, so the emulator can run what SAM
  # ships (GOARCH overrides the Makefile's arm64).
  timed "sam build (GOARCH=$(host_arch), .aws-sam/build-host)" env GOARCH="$(host_arch)" "$sam" build --build-dir .aws-sam/build-host
  ;;
*) echo "usage: sam.sh path|check" >&2; exit 2 ;;
esac
