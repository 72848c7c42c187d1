#!/usr/bin/env bash
# Runs one libFuzzer target for a bounded time: scripts/fuzz.sh FuzzScale 60
#
# Built in its own scratch path with all three sanitizer flags: SwiftPM passes --sanitize values
# in no fixed order and the driver keeps only the last, so the trailing -Xswiftc one is what
# guarantees both coverage and ASan. New inputs go to a temporary directory, so a run never
# changes the committed seed corpus; a crash is kept under Tests/Fuzz/crashes/ and fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."

target=${1:?usage: scripts/fuzz.sh TARGET SECONDS}
seconds=${2:-60}
case "$target" in
    FuzzScale)  corpus=scale;  dict=toml.dict ;;
    FuzzConfig) corpus=config; dict=toml.dict ;;
    FuzzRoster) corpus=roster; dict=csv.dict ;;
    FuzzProfile) corpus=profile; dict=toml.dict ;;
    FuzzReports) corpus=reports; dict= ;;
    FuzzBatch)  corpus=batch;  dict=batch.dict ;;
    FuzzQRToken) corpus=qrtoken; dict= ;;
    *) echo "fuzz.sh: unknown target $target (FuzzScale, FuzzConfig, FuzzRoster, FuzzProfile, FuzzReports, FuzzBatch, FuzzQRToken)" >&2; exit 2 ;;
esac

swift build -c debug --product "$target" --scratch-path .build-fuzz \
    --sanitize=fuzzer --sanitize=address -Xswiftc -sanitize=fuzzer,address -Xswiftc -use-ld=lld 2>&1 \
    | grep -vE "Cannot export local symbol" || true
binary=.build-fuzz/debug/$target
[ -x "$binary" ] || { echo "fuzz.sh: $binary was not built" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p Tests/Fuzz/crashes "$work/new"
log=$work/fuzz.log
status=0
LSAN_OPTIONS=suppressions=Tests/Fuzz/lsan.supp SWIFT_BACKTRACE=enable=no "$binary" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    ${dict:+-dict="Tests/Fuzz/$dict"} -artifact_prefix="Tests/Fuzz/crashes/$target-" \
    "$work/new" "Tests/Fuzz/corpus/$corpus" > "$log" 2>&1 || status=$?
runs=$(grep -oE '^Done [0-9]+ runs' "$log" | grep -oE '[0-9]+' || true)
if [ "$status" -ne 0 ]; then
    tail -40 "$log" >&2
    if ls Tests/Fuzz/crashes/"$target"-* >/dev/null 2>&1; then
        echo "fuzz.sh: $target FAILED (exit $status); the input is in Tests/Fuzz/crashes/: fix it and add it to Tests/Fuzz/regressions/" >&2
    else
        echo "fuzz.sh: $target could not run (exit $status): see the log above" >&2
    fi
    exit 1
fi
# A run that did nothing is a broken build (Swift's main instead of libFuzzer's), not a pass.
if [ -z "$runs" ] || [ "$runs" -lt 100 ]; then
    tail -20 "$log" >&2
    echo "fuzz.sh: $target ran ${runs:-no} inputs: the fuzzer build is broken" >&2
    exit 1
fi
echo "fuzz: $target $runs inputs in ${seconds}s, no crash"
