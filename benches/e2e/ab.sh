#!/usr/bin/env bash
# A/B of logwarden builds on one replay, for changes smaller than the noise
# of a shared machine: the builds run alternately, N times each, and the
# minimum and median wall time (and the least CPU time) of each are printed.
#
#   benches/e2e/ab.sh N RULES LOG BINARY...
#   benches/e2e/ab.sh 7 /tmp/e2e/pack-100.toml /tmp/e2e/bench.log \
#       /tmp/old/logwarden target/release/logwarden
#
# RULES and LOG as made by benches/e2e/run.sh (it keeps them in its work
# directory) or `cargo run --release --example bench-gen`. Each run is
# `BINARY replay --rules RULES --output /dev/null LOG`, timed by GNU time.
set -euo pipefail

if [ $# -lt 4 ]; then
  sed -n '2,12p' "$0" >&2
  exit 2
fi
runs=$1 rules=$2 log=$3
shift 3
timing=$(mktemp)
trap 'rm -f "$timing"' EXIT
declare -A times
for _ in $(seq "$runs"); do
  for bin in "$@"; do
    /usr/bin/time -o "$timing" -f "%e %U %S" \
      "$bin" replay --rules "$rules" --output /dev/null "$log" >/dev/null 2>&1
    times[$bin]="${times[$bin]:-} $(cat "$timing")"
  done
done
for bin in "$@"; do
  # shellcheck disable=SC2086
  printf '%s\n' ${times[$bin]} | paste - - - | sort -n | awk -v bin="$bin" '
    { wall[NR] = $1; cpu = $2 + $3; if (NR == 1 || cpu < least) least = cpu }
    END { printf "%s: min %.2f s, median %.2f s wall; least CPU %.2f s (%d runs)\n",
          bin, wall[1], wall[int((NR + 1) / 2)], least, NR }'
done
