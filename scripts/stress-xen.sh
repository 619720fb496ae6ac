#!/usr/bin/env bash
# Runs the whole PV suite on real Xen several times while every CPU core is kept busy, to show
# that no test depends on the host's speed (docs/timing.md). Each run writes its own results
# folder; one line per run, then a verdict.
#
# Usage: scripts/stress-xen.sh [--runs N] [--jobs J] [--load auto|stress-ng|busy|none]
#                              [--build-load] [--out DIR] [--xtf PATH] [-- XTF_RUN_ARGS...]
#   --runs N      suite runs (default 5)
#   --jobs J      xtf run --jobs (parallel QEMU instances, default 2)
#   --load KIND   auto (default): stress-ng, installed with apt when missing and running as
#                 root, else busy; stress-ng: one CPU worker per core; busy: one `yes` per core;
#                 none: no extra load
#   --build-load  also rebuild a copy of the source tree in a loop (dotnet build, no reuse of
#                 build servers) for extra, bursty load
#   --out DIR     where the runs go (default stress-results/<date-time>): DIR/run-K/ (records,
#                 transcripts, matrix), DIR/run-K.out (the runner's output), DIR/summary.txt
#   --xtf PATH    the runner (default conformance/Xtf.Runner/bin/Debug/net10.0/xtf; built if
#                 missing)
#   arguments after -- go to every `xtf run` (a GLOB, --timeout, --xen, ...)
# Exit codes: 0 every run passed, 1 a run failed (or was interrupted), 2 bad usage or a missing
# part (xtf could not be built, Xen or QEMU missing: xtf's own exit 2).
set -uo pipefail
cd "$(dirname "$0")/.."

runs=5
jobs=2
load=auto
build_load=0
out="stress-results/$(date +%Y%m%d-%H%M%S)"
xtf=conformance/Xtf.Runner/bin/Debug/net10.0/xtf
extra=()

usage() { echo "stress-xen: $1 (see the usage at the top of scripts/stress-xen.sh)" >&2; exit 2; }
positive() { [[ "$2" =~ ^[1-9][0-9]{0,3}$ ]] || usage "$1 takes a number from 1 to 9999, not '$2'"; }

while [ $# -gt 0 ]; do
    case "$1" in
        --runs) [ $# -ge 2 ] || usage "--runs needs a value"; positive --runs "$2"; runs=$2; shift 2 ;;
        --jobs) [ $# -ge 2 ] || usage "--jobs needs a value"; positive --jobs "$2"; jobs=$2; shift 2 ;;
        --load) [ $# -ge 2 ] || usage "--load needs a value"
                case "$2" in auto|stress-ng|busy|none) load=$2 ;; *) usage "--load is auto, stress-ng, busy or none, not '$2'" ;; esac
                shift 2 ;;
        --build-load) build_load=1; shift ;;
        --out) [ $# -ge 2 ] || usage "--out needs a value"; out=$2; shift 2 ;;
        --xtf) [ $# -ge 2 ] || usage "--xtf needs a value"; xtf=$2; shift 2 ;;
        --) shift; extra=("$@"); break ;;
        -h|--help) sed -n '2,/^set -uo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) usage "unknown argument '$1'" ;;
    esac
done

if [ ! -x "$xtf" ]; then
    echo "stress-xen: building the runner (dotnet build conformance/Xtf.Runner)" >&2
    dotnet build conformance/Xtf.Runner/Xtf.Runner.csproj -v q -nologo >/dev/null || usage "could not build the runner"
    [ -x "$xtf" ] || usage "no runner at $xtf"
fi
mkdir -p "$out" || usage "cannot create $out"

# Load processes are started here and stopped by their own PIDs (process groups for the build
# loop), on exit and on Ctrl-C / SIGTERM; so is a runner still going.
load_pids=()
group_pids=()
runner_pid=
scratch=
stop_all() {
    [ -n "$runner_pid" ] && kill -TERM "$runner_pid" 2>/dev/null && wait "$runner_pid" 2>/dev/null
    for p in "${load_pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
    for p in "${group_pids[@]}"; do kill -TERM -- "-$p" 2>/dev/null; done
    for p in "${load_pids[@]}" "${group_pids[@]}"; do wait "$p" 2>/dev/null; done
    [ -n "$scratch" ] && rm -rf "$scratch"
    load_pids=(); group_pids=(); runner_pid=; scratch=
}
interrupted() { echo "stress-xen: interrupted; stopping the runner and the load" >&2; stop_all; exit 1; }
trap stop_all EXIT
trap interrupted INT TERM HUP

cores=$(nproc)
if [ "$load" = auto ]; then
    if ! command -v stress-ng >/dev/null && [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
        echo "stress-xen: installing stress-ng (apt-get install stress-ng)" >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q stress-ng >/dev/null 2>&1 || true
    fi
    if command -v stress-ng >/dev/null; then load=stress-ng; else load=busy; fi
fi
case "$load" in
    stress-ng)
        command -v stress-ng >/dev/null || usage "stress-ng is not installed (apt-get install stress-ng, or --load busy)"
        stress-ng --cpu "$cores" --cpu-method all --quiet >/dev/null 2>&1 &
        load_pids+=($!)
        load_text="stress-ng --cpu $cores" ;;
    busy)
        for _ in $(seq "$cores"); do yes >/dev/null & load_pids+=($!); done
        load_text="$cores x yes" ;;
    none) load_text="no extra load" ;;
esac
if [ "$build_load" -eq 1 ]; then
    scratch=$(mktemp -d /tmp/xtf-stress-build-XXXXXX)
    git archive HEAD | tar -x -C "$scratch" || usage "cannot copy the source tree for --build-load"
    setsid bash -c 'while :; do dotnet build "$1/sim/Xtf.Sim/Xtf.Sim.csproj" --no-incremental -nodeReuse:false -p:UseSharedCompilation=false -v q -nologo >/dev/null 2>&1; done' _ "$scratch" &
    group_pids+=($!)
    load_text="$load_text + a dotnet build loop"
fi

summary="$out/summary.txt"
{
    echo "stress-xen: $runs run(s) of the suite on real Xen, xtf run --host xen --jobs $jobs ${extra[*]}"
    echo "load: $load_text on $cores core(s); started $(date -Is)"
} | tee "$summary"

failed=0
for k in $(seq "$runs"); do
    dir="$out/run-$k"
    start=$(date +%s)
    "$xtf" run --host xen --jobs "$jobs" --results "$dir" "${extra[@]}" >"$out/run-$k.out" 2>&1 &
    runner_pid=$!
    wait "$runner_pid"
    rc=$?
    runner_pid=
    secs=$(( $(date +%s) - start ))
    loadavg=$(cut -d' ' -f1-3 /proc/loadavg)
    tally=$(grep -E '^[0-9]+ test\(s\):' "$out/run-$k.out" | tail -1 | sed 's/; transcripts in .*//')
    if [ "$rc" -eq 2 ]; then
        echo "run $k/$runs: cannot run (exit 2): $(tail -1 "$out/run-$k.out")" | tee -a "$summary"
        exit 2
    fi
    slowest=$(grep -E '^test-' "$out/run-$k.out" | awk '{ t = $3; sub(/s$/, "", t); if (t + 0 > max) { max = t + 0; name = $1 } } END { if (name != "") printf "slowest %s %.1fs", name, max }')
    if [ "$rc" -eq 0 ]; then
        echo "run $k/$runs: PASS  ${tally:-no tally}  ${secs}s  load $loadavg  $slowest" | tee -a "$summary"
    else
        failed=$((failed + 1))
        bad=$(grep -E '^test-' "$out/run-$k.out" | grep -v ' SUCCESS ' | awk '{print $1 " " $2}' | paste -sd ',' - | sed 's/,/, /g')
        echo "run $k/$runs: FAIL  exit $rc  ${tally:-no tally}  ${secs}s  load $loadavg  ${bad:-see $out/run-$k.out}" | tee -a "$summary"
    fi
done

stop_all
if [ "$failed" -eq 0 ]; then
    echo "stress-xen: PASS: $runs/$runs runs passed under $load_text (results in $out)" | tee -a "$summary"
    exit 0
fi
echo "stress-xen: FAIL: $failed of $runs runs failed under $load_text (results in $out)" | tee -a "$summary"
exit 1
