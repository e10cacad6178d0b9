#!/usr/bin/env bash
# Print the path of Chromium for the dashboard's browser test: Debian's
# chromium package, installed with apt-get when missing (as moto.sh
# installs moto), with an apt-get update first only if the install fails.
set -euo pipefail
bin=/usr/bin/chromium
if [ ! -x "$bin" ]; then
  echo "chromium not found; installing Debian's chromium package" >&2
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get install -y -q chromium >&2; then
    apt-get update -q >&2
    apt-get install -y -q chromium >&2
  fi
fi
"$bin" --version >&2
echo "$bin"
