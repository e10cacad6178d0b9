#!/usr/bin/env bash
# make bench-<name>: run a benchmark against moto server (started and
# stopped here) and print the median of each case and its ratio to the
# first case. Machines are shared and noisy: compare ratios within one run.
set -euo pipefail
cd "$(dirname "$0")/../.."
name=${1:?usage: bench.sh audit}
count=${COUNT:-5}
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
trap 'infra/scripts/moto.sh stop "$port"' EXIT INT TERM
export GITPULSE_TEST_AWS_ENDPOINT=$(infra/scripts/moto.sh start "$port")
case "$name" in
  audit) pkg=./shared/audit; bench=BenchmarkGitLabCalls ;;
  *) echo "unknown benchmark $name" >&2; exit 2 ;;
esac
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
