#!/usr/bin/env bash
# Prints the SHA-256 of every simulator trace and transcript of the suite (three seeds)
# and the trace hash of four fuzz campaigns, one line each, sorted. A refactoring that claims
# "no behaviour change" must leave this output byte-identical: run it before and after and diff.
#   scripts/trace-hashes.sh [XTF_BINARY] > hashes.txt
set -euo pipefail
cd "$(dirname "$0")/.."
xtf=${1:-conformance/Xtf.Runner/bin/Debug/net10.0/xtf}
[ -x "$xtf" ] || { echo "trace-hashes: $xtf not built (dotnet build Xtf.sln)" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for seed in 0x5eed 1 12345; do
    "$xtf" run --seed "$seed" --results "$work/run-$seed" >/dev/null || true
    (cd "$work/run-$seed/sim" && sha256sum -- *.trace *.log) | sed "s/^/run seed=$seed /"
done
for area in all evtchn vcpu sched; do
    "$xtf" fuzz --area "$area" --cases 600 --seed 11 --results "$work/fuzz-$area" >/dev/null || true
    printf 'fuzz area=%s %s\n' "$area" "$(sed -n 's/.*"traceHash": "\([0-9a-f]*\)".*/\1/p' "$work/fuzz-$area/fuzz-summary.json")"
done | sort
