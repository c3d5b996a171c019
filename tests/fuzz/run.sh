#!/bin/sh
# run.sh FUZZER WORKDIR SEEDS DICT SECONDS: a bounded libFuzzer run. New inputs
# go to WORKDIR (in the build tree), never into the committed seed corpus.
# Exits non-zero (and leaves crash-* in WORKDIR) when the fuzzer finds a crash.
set -eu
fuzzer=$1 work=$2 seeds=$3 dict=$4 secs=$5
mkdir -p "$work/corpus" "$work/artifacts"
export ASAN_OPTIONS="${ASAN_OPTIONS:-}:detect_leaks=1:abort_on_error=1"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-}:print_stacktrace=1:halt_on_error=1"
# libFuzzer's own exit code for a crash is 77, which meson takes for "skipped":
# make every finding a failure.
exec "$fuzzer" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
	-error_exitcode=1 -timeout_exitcode=1 \
	-dict="$dict" -artifact_prefix="$work/artifacts/" "$work/corpus" "$seeds"
