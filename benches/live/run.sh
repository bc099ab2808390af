#!/usr/bin/env bash
# Live-agent benchmarks (issue 7): append-to-alert latency, sustained
# throughput, idle CPU, memory and a rotation soak of `logwarden run`,
# driven by examples/live-bench (see its module docs for every option).
#
#   benches/live/run.sh                 # everything, 2-minute soak
#   benches/live/run.sh --quick         # a few seconds each, 30 s soak
#   benches/live/run.sh --soak 30       # everything, 30-minute soak
#   benches/live/run.sh --only latency  # one scenario (repeatable)
#   benches/live/run.sh --out FILE      # report path (default target/live-bench/report-DATE.md)
#
# Linux only (/proc). Builds once (cargo build --release), then runs each
# scenario on a fresh site under target/live-bench/ and appends its
# Markdown report, with the exact command and the load average, to the
# report file. Results are recorded in benches/live-results.md.
set -euo pipefail
cd "$(dirname "$0")/../.."

quick=0
soak_min=2
only=()
out=""
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1 ;;
    --soak) soak_min="$2"; shift ;;
    --only) only+=("$2"); shift ;;
    --out) out="$2"; shift ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
if [ "$quick" = 1 ] && [ "$soak_min" = 2 ]; then soak_min=0.5; fi

wanted() {
  [ ${#only[@]} -eq 0 ] && return 0
  local s
  for s in "${only[@]}"; do [ "$s" = "$1" ] && return 0; done
  return 1
}

echo "== build" >&2
cargo build --release --locked --bin logwarden --example live-bench
bench=target/release/examples/live-bench
mkdir -p target/live-bench
report="${out:-target/live-bench/report-$(date -u +%Y%m%d-%H%M%S).md}"

{
  echo "# live-bench run $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo
  echo "- commit: $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet 2>/dev/null || echo ' (with local changes)')"
  echo "- machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo) RAM, $(uname -sr)"
  echo "- rustc: $(rustc --version)"
  echo "- load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "- mode: $([ "$quick" = 1 ] && echo quick || echo full), soak ${soak_min} min"
  echo
} >"$report"

run() {
  local name="$1"; shift
  echo "== $name: live-bench $*" >&2
  {
    echo "## \`live-bench $*\`"
    echo
    echo "(load average before: $(cut -d' ' -f1-3 /proc/loadavg))"
    echo
  } >>"$report"
  if ! "$bench" "$@" >>"$report"; then
    echo "**the benchmark failed (see stderr)**" >>"$report"
    status=1
  fi
  echo >>"$report"
}

status=0
if [ "$quick" = 1 ]; then
  wanted latency && run latency latency --seconds 5
  wanted throughput && run throughput throughput --seconds 5
  wanted idle && run idle idle --seconds 10 --settle 2
  wanted memory && run memory memory --seconds 5
  wanted soak && run soak soak --minutes "$soak_min" --sample-secs 5
else
  wanted latency && run latency latency
  # The same rate with 500 idle followed files beside the hot one.
  wanted latency && run latency latency --files 500
  wanted throughput && run throughput throughput
  # Beyond the target: how fast the writer and the agent can go.
  wanted throughput && run throughput throughput --rate 1000000 --seconds 15
  wanted idle && run idle idle
  wanted memory && run memory memory
  wanted soak && run soak soak --minutes "$soak_min"
fi
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$report"
echo "report: $report" >&2
exit "$status"
