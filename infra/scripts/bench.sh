#!/usr/bin/env bash
# make bench-<name>: run a benchmark against moto server (started and
# stopped here).
#   audit: the median of each case and its ratio to the first case.
#          Machines are shared and noisy: compare ratios within one run.
#   sync:  infra/benchsync on a generated course; the other arguments go
#          to it (e.g. bench.sh sync -teams 4).
#   cold:  infra/benchcold: bootstrap sizes, cold and warm invocations
#          under the Runtime Interface Emulator (e.g. bench.sh cold -runs 9).
#   api:   infra/benchapi: the data API's read routes on a synced course;
#          the other arguments go to it (e.g. bench.sh api -n 100 -json).
set -euo pipefail
cd "$(dirname "$0")/../.."
name=${1:?usage: bench.sh audit|sync|cold|api [args]}
shift
case "$name" in
  audit|sync|cold|api) ;;
  *) echo "unknown benchmark $name" >&2; exit 2 ;;
esac
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
trap 'infra/scripts/moto.sh stop "$port"' EXIT INT TERM
endpoint=$(infra/scripts/moto.sh start "$port") # a failed start stops here (set -e)
export GITPULSE_TEST_AWS_ENDPOINT=$endpoint

if [ "$name" = sync ] || [ "$name" = cold ] || [ "$name" = api ]; then
  AWS_ENDPOINT_URL=$endpoint AWS_REGION=eu-central-1 \
  AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_SESSION_TOKEN= AWS_PROFILE= \
    go run "./infra/bench$name" "$@"
  exit
fi

count=${COUNT:-5}
pkg=./shared/audit; bench=BenchmarkGitLabCalls
out=$(go test -run '^$' -bench "^$bench\$" -count "$count" "$pkg")
echo "$out" | grep '^Benchmark'
echo
echo "$out" | python3 -c '
import re, statistics, sys
runs = {}
for line in sys.stdin:
    m = re.match(r"^(Benchmark\S+?)-\d+\s+\d+\s+([\d.]+) ns/op", line)
    if m:
        runs.setdefault(m.group(1), []).append(float(m.group(2)))
base = {}
for name, values in runs.items():
    group = name.rsplit("/", 1)[0]
    med = statistics.median(values)
    base.setdefault(group, (name, med))
    first, b = base[group]
    ref = first.split("/")[-1]
    print(f"{name:58s} median {med/1e6:10.1f} ms   x{med/b:.3f} of {ref}")
'
