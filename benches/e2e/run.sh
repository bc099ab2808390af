#!/usr/bin/env bash
# End-to-end benchmark (issue 7): `logwarden replay` against the line-split
# floor, ripgrep, GNU grep and SEC on the same generated SMS log and the same
# rules, page cache warm, medians of several runs taken in rounds (one run of
# every command per round, so that the machine's slow spells fall on all
# alike). Prints Markdown tables:
# lines/s, CPU, peak RSS, the ratios, PASS/MISS per issue-7 target, and a
# correctness check (the lines each tool counts as matching).
#
#   benches/e2e/run.sh [--lines N] [--seed S] [--runs R] [--quick] [--no-install]
#
#   --lines N     log lines (default 2,000,000: about 300 MB)
#   --seed S      generator seed (default 1)
#   --runs R      runs per measurement, the median (by wall time) is reported (default 3)
#   --quick       200,000 lines, 1 run: a quick look, not a result (options after it win)
#   --no-install  do not apt-get missing peers; skip their rows instead
#
# Inputs come from `cargo run --release --example bench-gen` (examples/bench-gen):
# the log, packs of 1/10/100/1,000 `[[threshold]]` rules on one `format = "sms"`
# source, the same regexes as `rg -f`, `grep -E -f` and SEC files, and the
# number of lines each pack must match. Work files go to target/e2e/.
# The report is also written to target/e2e/report.md.
#
# Peers (Debian packages, installed when missing and we are root): ripgrep,
# sec, time (/usr/bin/time, for CPU and peak RSS). SEC and grep with 1,000
# rules are too slow for the whole log: they read a prefix of it (stated in
# the table); compare their lines/s, not their times.
set -euo pipefail

LINES=2000000
SEED=1
RUNS=3
INSTALL=1
ARGS="$*"
while [ $# -gt 0 ]; do
    case "$1" in
        --lines) LINES=${2//_/}; shift 2 ;;
        --seed) SEED=$2; shift 2 ;;
        --runs) RUNS=$2; shift 2 ;;
        --quick) LINES=200000; RUNS=1; shift ;;
        --no-install) INSTALL=0; shift ;;
        -h|--help) sed -n '2,25p' "$0"; exit 0 ;;
        *) echo "run.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done
case "$LINES$RUNS" in *[!0-9]*) echo "run.sh: --lines and --runs take whole numbers" >&2; exit 2 ;; esac

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
WORK="$ROOT/target/e2e"
DATA="$WORK/data"
RESULTS="$WORK/results.tsv"
REPORT="$WORK/report.md"
mkdir -p "$DATA"
: >"$RESULTS"

say() { echo "== $*" >&2; }
commas() { awk -v x="$1" 'BEGIN { s = sprintf("%d", x); n = ""; while (length(s) > 3) { n = "," substr(s, length(s) - 2) n; s = substr(s, 1, length(s) - 3) }; print s n }'; }

# ---------------------------------------------------------------- peers
missing=()
command -v rg >/dev/null || missing+=(ripgrep)
command -v sec >/dev/null || missing+=(sec)
[ -x /usr/bin/time ] || missing+=(time)
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$INSTALL" = 1 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        say "installing ${missing[*]}"
        apt-get update -qq >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2
    else
        say "missing ${missing[*]}: their rows are skipped (install: apt-get install -y ${missing[*]})"
    fi
fi
if [ ! -x /usr/bin/time ]; then
    echo "run.sh: /usr/bin/time is needed for CPU and peak RSS (apt-get install time)" >&2
    exit 2
fi
have() { command -v "$1" >/dev/null; }

# ---------------------------------------------------------------- build, inputs
say "cargo build --release (logwarden, bench-gen)"
cargo build --release --locked --bin logwarden --example bench-gen >&2
LW="$ROOT/target/release/logwarden"
GEN="$ROOT/target/release/examples/bench-gen"

say "generating $LINES lines, seed $SEED"
rm -f "$DATA"/prefix-*.log
"$GEN" gen "$DATA" --lines "$LINES" --seed "$SEED" >&2
LOG="$DATA/bench.log"
: >"$DATA/empty.log"
# Prefixes for the slow peers.
prefix() { # N -> path of the log's first N lines (at most the log)
    local n=$(( $1 < LINES ? $1 : LINES ))
    local p="$DATA/prefix-$n.log"
    [ -f "$p" ] || head -n "$n" "$LOG" >"$p"
    echo "$p"
}
SEC_LINES_1=200000
SEC_LINES_10=100000
SEC_LINES_100=20000
GREP_LINES_1000=200000

# Warm the page cache.
cat "$LOG" "$DATA"/prefix-*.log >/dev/null 2>&1 || true

# ---------------------------------------------------------------- measuring
# Every measurement is registered first (job) and then run RUNS rounds, one
# run of each per round (run_jobs): a slow spell of the shared machine then
# falls on every tool alike instead of on whichever ran during it, and the
# ratios (what the targets are) drift less than the times.
JOBS=0
JOB=            # the number of the job registered last
declare -a J_TOOL J_RULES J_LINES J_NOTE J_CMD
# job TOOL RULES LINES NOTE -- CMD...: registers a measurement as job $JOB.
job() {
    JOB=$JOBS
    J_TOOL[JOB]=$1 J_RULES[JOB]=$2 J_LINES[JOB]=$3 J_NOTE[JOB]=$4
    shift 5
    J_CMD[JOB]=$(printf '%q ' "$@")
    JOBS=$((JOBS + 1))
}

# run_jobs: RUNS rounds of every job; then per job, in order, the run with the
# median wall time: its stdout/stderr in $WORK/job.K.out/err and a row in
# $RESULTS: tool rules lines wall cpu_s rss_kib note.
run_jobs() {
    local i k rc t0 t1
    for ((i = 1; i <= RUNS; i++)); do
        for ((k = 0; k < JOBS; k++)); do
            rc=0
            # Wall time from bash's microsecond clock (time's %e has 10 ms
            # steps); CPU and peak RSS from /usr/bin/time.
            t0=$EPOCHREALTIME
            eval "/usr/bin/time -f '%U %S %M' -o \"\$WORK/time.$k.$i\" ${J_CMD[k]}" \
                >"$WORK/out.$k.$i" 2>"$WORK/err.$k.$i" || rc=$?
            t1=$EPOCHREALTIME
            echo "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }') $(tail -1 "$WORK/time.$k.$i")" >"$WORK/time.$k.$i"
            # grep and rg exit 1 when nothing matched: not a failure here.
            if [ "$rc" -gt 1 ]; then
                echo "run.sh: failed ($rc): ${J_CMD[k]}" >&2
                tail -5 "$WORK/err.$k.$i" >&2
                exit 2
            fi
        done
        say "round $i of $RUNS done"
    done
    local pick wall user sys rss idx
    for ((k = 0; k < JOBS; k++)); do
        pick=$(for ((i = 1; i <= RUNS; i++)); do echo "$(cat "$WORK/time.$k.$i") $i"; done |
            sort -n -k1,1 | sed -n "$(( (RUNS + 1) / 2 ))p")
        read -r wall user sys rss idx <<<"$pick"
        cp "$WORK/out.$k.$idx" "$WORK/job.$k.out"
        # tracing colours its output even into a file.
        sed 's/\x1b\[[0-9;]*m//g' "$WORK/err.$k.$idx" >"$WORK/job.$k.err"
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "${J_TOOL[k]}" "${J_RULES[k]}" "${J_LINES[k]}" "$wall" \
            "$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.2f", u + s }')" "$rss" "${J_NOTE[k]}" >>"$RESULTS"
        say "$(printf '%-30s %5s rules %9s lines  %7ss' "${J_TOOL[k]}" "${J_RULES[k]}" "${J_LINES[k]}" "$wall")"
    done
}

declare -A COUNT # "tool/rules" -> matching lines it reported
declare -A AT    # "tool/rules" -> its job

# The floor of the targets reads 128 KiB at a time, the fastest read size on
# the 2-core VM this was written on (a read and its page-cache source fit in
# L2); 64 KiB is replay's read size, shown for comparison.
FLOOR="floor (memchr, 128 KiB reads)"
job "$FLOOR" - "$LINES" "" -- "$GEN" split "$LOG" 128
AT[floor]=$JOB
job "floor (memchr, 64 KiB reads)" - "$LINES" "replay's read size" -- "$GEN" split "$LOG" 64
job "wc -l" - "$LINES" "" -- wc -l "$LOG"

for n in 1 10 100 1000; do
    job "logwarden startup" "$n" 0 "empty log: rule compile" -- \
        env LOGWARDEN_LOG=info "$LW" replay --rules "$DATA/pack-$n.toml" --output /dev/null "$DATA/empty.log"
done
for n in 1 10 100 1000; do
    job "logwarden replay" "$n" "$LINES" "" -- \
        env LOGWARDEN_LOG=info "$LW" replay --rules "$DATA/pack-$n.toml" --output /dev/null "$LOG"
    AT[lw/$n]=$JOB
done

if have rg; then
    for n in 1 10 100 1000; do
        job "rg -c -f" "$n" "$LINES" "" -- rg --no-config -c -f "$DATA/rg-$n.txt" "$LOG"
        AT[rg/$n]=$JOB
    done
fi

for n in 10 100; do
    job "grep -E -c -f" "$n" "$LINES" "" -- grep -E -c -f "$DATA/ere-$n.txt" "$LOG"
    AT[grep/$n]=$JOB
done
p=$(prefix $GREP_LINES_1000)
pl=$(wc -l <"$p")
job "grep -E -c -f" 1000 "$pl" "first $pl lines" -- grep -E -c -f "$DATA/ere-1000.txt" "$p"
AT[grep1000prefix]=$JOB
COUNT[grep1000lines]=$pl
have rg && COUNT[rg1000prefix]=$(rg --no-config -c -f "$DATA/rg-1000.txt" "$p" || echo 0)

if have sec; then
    for n in 1 10 100; do
        var=SEC_LINES_$n
        p=$(prefix "${!var}")
        pl=$(wc -l <"$p")
        job "sec (SingleWithThreshold)" "$n" "$pl" "first $pl lines" -- \
            sec --conf="$DATA/sec-$n.conf" --input="$p" --notail --log=/dev/null \
            --debug=1 --nointevents --nointcontexts
        # Correctness, untimed: the same rules as `Single`, writing each
        # matching line (one per line: SEC stops at the first rule that matches).
        sed -e 's/^type=SingleWithThreshold/type=Single/' -e 's/^action=none/action=write - m/' \
            -e '/^window=/d' -e '/^thresh=/d' "$DATA/sec-$n.conf" >"$WORK/sec-check.conf"
        COUNT[sec/$n]=$(sec --conf="$WORK/sec-check.conf" --input="$p" --notail --log=/dev/null \
            --nointevents --nointcontexts | wc -l)
        have rg && COUNT[rgprefix/$n]=$(rg --no-config -c -f "$DATA/rg-$n.txt" "$p" || echo 0)
        COUNT[secprefix/$n]=$pl
    done
fi

say "measuring: $JOBS commands, $RUNS rounds"
run_jobs

split_lines=$(cat "$WORK/job.${AT[floor]}.out")
if [ "$split_lines" != "$LINES" ]; then
    echo "run.sh: the floor counted $split_lines lines, expected $LINES" >&2
    exit 2
fi
for n in 1 10 100 1000; do
    summary=$(grep 'replay finished' "$WORK/job.${AT[lw/$n]}.err" || true)
    records=$(sed -n 's/.* records=\([0-9]*\).*/\1/p' <<<"$summary")
    COUNT[lw/$n]=$(sed -n 's/.* matched=\([0-9]*\).*/\1/p' <<<"$summary")
    COUNT[lwalerts/$n]=$(sed -n 's/.* alerts=\([0-9]*\).*/\1/p' <<<"$summary")
    if [ "$records" != "$LINES" ]; then
        say "logwarden read $records records of $LINES lines with $n rules"
        COUNT[lwrecords/$n]=$records
    fi
    if have rg; then
        COUNT[rg/$n]=$(cat "$WORK/job.${AT[rg/$n]}.out")
    fi
done
for n in 10 100; do
    COUNT[grep/$n]=$(cat "$WORK/job.${AT[grep/$n]}.out")
done
COUNT[grep1000prefix]=$(cat "$WORK/job.${AT[grep1000prefix]}.out")

# ---------------------------------------------------------------- report
{
    echo "## End-to-end benchmark"
    echo
    echo "- command: \`benches/e2e/run.sh${ARGS:+ $ARGS}\` ($LINES lines, seed $SEED, median of $RUNS run(s) taken in rounds, page cache warm)"
    echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "- machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo) RAM, $(uname -sr)"
    echo "- load average at the end: $(cut -d' ' -f1-3 /proc/loadavg) (shared machine: other builds may have been running)"
    echo "- logwarden $(git -C "$ROOT" rev-parse --short HEAD)$(git -C "$ROOT" diff --quiet HEAD -- src Cargo.toml Cargo.lock || echo ' (+ uncommitted changes)'); $(rg --version 2>/dev/null | head -1); $(grep --version | head -1); $(sec --version 2>/dev/null | head -1)"
    echo "- log: $(du -m "$LOG" | cut -f1) MB, $(awk -v b="$(stat -c %s "$LOG")" -v n="$LINES" 'BEGIN { printf "%.0f", b / n }') bytes/line; lines matching a pack of 1/10/100/1000 rules: $(tail -n +2 "$DATA/expected.tsv" | cut -f2 | paste -sd/)"
    echo
    echo "| tool | rules | lines | wall s | lines/s | CPU s (user+sys) | CPU % | lines/CPU s | peak RSS MiB | note |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"
    awk -F'\t' '
    function commas(x,   s, n) {
        s = sprintf("%d", x); n = ""
        while (length(s) > 3) { n = "," substr(s, length(s) - 2) n; s = substr(s, 1, length(s) - 3) }
        return s n
    }
    {
        lps = "-"
        if ($3 > 0 && $4 > 0) lps = commas($3 / $4)
        cpu = ($4 > 0) ? sprintf("%.0f", 100 * $5 / $4) : "-"
        lpc = "-"
        if ($3 > 0 && $5 > 0) lpc = commas($3 / $5)
        if ($3 > 0 && $5 == 0) lpc = "> " commas($3 / 0.01)
        printf "| %s | %s | %s | %.3f | %s | %.2f | %s | %s | %.1f | %s |\n", $1, $2, commas($3), $4, lps, $5, cpu, lpc, $6 / 1024, $7
    }' "$RESULTS"
    echo
    echo "lines/s = lines / wall time, startup included; lines/CPU s = lines / (user + sys), steadier than wall time when"
    echo "other jobs share the cores (but it charges a tool for using two; CPU times come in 10 ms steps, rough for the"
    echo "shortest rows). Rows on a prefix of the log read fewer lines: compare their rates, not their times."
    echo

    # Ratios and targets: from lines/s (wall, what the issue states) and
    # from lines per CPU second (steadier on a shared machine).
    rate() { # COLUMN(4 = wall, 5 = cpu) TOOL RULES
        awk -F'\t' -v c="$1" -v t="$2" -v r="$3" '$1 == t && $2 == r && $c > 0 { printf "%.0f", $3 / $c }' "$RESULTS"
    }
    ratio() { [ -n "$1" ] && [ -n "$2" ] && awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }' || echo "n/a"; }
    both() { # TOOL_A RULES_A TOOL_B RULES_B -> "wall ratio | cpu ratio"
        echo "$(ratio "$(rate 4 "$1" "$2")" "$(rate 4 "$3" "$4")") | $(ratio "$(rate 5 "$1" "$2")" "$(rate 5 "$3" "$4")")"
    }
    echo "| ratio | by lines/s | by lines/CPU s |"
    echo "|---|---:|---:|"
    for n in 1 10 100 1000; do
        echo "| logwarden / rg, $n rules | $(both "logwarden replay" "$n" "rg -c -f" "$n") |"
    done
    for n in 1 10 100; do
        echo "| logwarden / SEC, $n rules | $(both "logwarden replay" "$n" "sec (SingleWithThreshold)" "$n") |"
    done
    for n in 1 10 100 1000; do
        echo "| logwarden / floor, $n rules | $(both "logwarden replay" "$n" "$FLOOR" -) |"
    done
    echo
    verdict() { awk -v v="$1" -v t="$2" 'BEGIN { if (v == "n/a" || v == "") print "n/a"; else if (v + 0 >= t + 0) print "PASS"; else print "MISS" }'; }
    target() { # TEXT THRESHOLD WALL_VALUE CPU_VALUE UNIT
        local w=$3 c=$4
        case "$w" in "" | n/a) w=n/a ;; *) w=$w$5 ;; esac
        case "$c" in "" | n/a) c=n/a ;; *) c=$c$5 ;; esac
        echo "| $1 | $w | $(verdict "$3" "$2") | $c | $(verdict "$4" "$2") |"
    }
    echo "| issue 7 target | by lines/s | verdict | by lines/CPU s | verdict |"
    echo "|---|---:|---|---:|---|"
    target "replay, 100 rules: ≥ 2× the lines/s of \`rg -c -f\`" 2 \
        "$(ratio "$(rate 4 "logwarden replay" 100)" "$(rate 4 "rg -c -f" 100)")" \
        "$(ratio "$(rate 5 "logwarden replay" 100)" "$(rate 5 "rg -c -f" 100)")" "×"
    target "replay, 100 rules: ≥ 100× SEC" 100 \
        "$(ratio "$(rate 4 "logwarden replay" 100)" "$(rate 4 "sec (SingleWithThreshold)" 100)")" \
        "$(ratio "$(rate 5 "logwarden replay" 100)" "$(rate 5 "sec (SingleWithThreshold)" 100)")" "×"
    target "replay, 1,000 rules: ≥ 1 M lines/s" 1000000 \
        "$(rate 4 "logwarden replay" 1000)" "$(rate 5 "logwarden replay" 1000)" " lines/s"
    target "replay, 10 rules: within 3× of the floor (≥ 0.33 of its rate)" 0.3333 \
        "$(ratio "$(rate 4 "logwarden replay" 10)" "$(rate 4 "$FLOOR" -)")" \
        "$(ratio "$(rate 5 "logwarden replay" 10)" "$(rate 5 "$FLOOR" -)")" "× the floor"
    echo

    echo "Correctness: lines matching each pack (the generator plants them and knows the count)."
    echo
    echo "| rules | expected | logwarden \`matched\` | rg | grep -E | status |"
    echo "|---:|---:|---:|---:|---:|---|"
    for n in 1 10 100 1000; do
        exp=$(awk -F'\t' -v n="$n" '$1 == n { print $2 }' "$DATA/expected.tsv")
        lw=${COUNT[lw/$n]:-?} rgc=${COUNT[rg/$n]:-n/a} gc=${COUNT[grep/$n]:-n/a}
        status=OK
        [ "$lw" = "$exp" ] || status="MISMATCH (logwarden)"
        [ "$rgc" = n/a ] || [ "$rgc" = "$exp" ] || status="MISMATCH (rg)"
        [ "$gc" = n/a ] || [ "$gc" = "$exp" ] || status="MISMATCH (grep)"
        [ -z "${COUNT[lwrecords/$n]:-}" ] || status="$status; logwarden read ${COUNT[lwrecords/$n]} records"
        echo "| $n | $exp | $lw | $rgc | $gc | $status |"
    done
    if [ -n "${COUNT[grep1000prefix]:-}" ]; then
        echo "| 1000 (first ${COUNT[grep1000lines]} lines) | | | ${COUNT[rg1000prefix]:-n/a} | ${COUNT[grep1000prefix]} | $([ "${COUNT[rg1000prefix]:-}" = "${COUNT[grep1000prefix]}" ] && echo OK || echo MISMATCH) |"
    fi
    if have sec; then
        for n in 1 10 100; do
            s=${COUNT[sec/$n]} r=${COUNT[rgprefix/$n]:-n/a}
            echo "| $n (SEC, first ${COUNT[secprefix/$n]} lines) | | | $r | SEC: $s | $([ "$s" = "$r" ] && echo OK || echo MISMATCH) |"
        done
    fi
    echo
    echo "Alerts written by replay (to /dev/null) per pack: $(for n in 1 10 100 1000; do printf '%s ' "${COUNT[lwalerts/$n]:-?}"; done)"
} | tee "$REPORT"
