#!/usr/bin/env bash
# Fuzz the API server's request path, list/watch parameters and selectors,
# protobuf bodies and the patch code, each for a bounded time.
#   fuzz/run.sh [SECONDS_PER_TARGET]   (default 60)
# Needs cargo-fuzz (`cargo install cargo-fuzz --locked`). Uses a nightly
# toolchain when one is installed; otherwise the stable one with
# RUSTC_BOOTSTRAP=1 (cargo-fuzz needs -Zsanitizer, a nightly-only flag), so a
# CI machine with only stable works. FUZZ_TOOLCHAIN=stable forces the latter.
# Crashes land in fuzz/artifacts/<target>/; the script fails if one is found.
set -euo pipefail
secs="${1:-60}"
case "$secs" in '' | *[!0-9]*)
    echo "usage: fuzz/run.sh [SECONDS_PER_TARGET] (got '$secs')" >&2
    exit 2 ;;
esac
cd "$(dirname "$0")"
if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "cargo-fuzz is not installed: run 'cargo install cargo-fuzz --locked'" >&2
    exit 2
fi
toolchain="${FUZZ_TOOLCHAIN:-}"
if [ -z "$toolchain" ]; then
    if cargo +nightly --version >/dev/null 2>&1; then toolchain=nightly; else toolchain=stable; fi
fi
if [ "$toolchain" = nightly ]; then
    fuzz=(cargo +nightly fuzz)
else
    echo "== no nightly toolchain in use: building with stable and RUSTC_BOOTSTRAP=1"
    export RUSTC_BOOTSTRAP=1
    fuzz=(cargo "+$toolchain" fuzz)
fi
for target in request query protobuf patch; do
    mkdir -p "corpus/$target"
    echo "== fuzzing $target for ${secs}s (${fuzz[*]})"
    if ! "${fuzz[@]}" run "$target" "corpus/$target" -- \
        -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048; then
        echo "fuzz target '$target' failed; reproducer(s) in fuzz/artifacts/$target/:" >&2
        ls -1 "artifacts/$target" >&2 2>/dev/null || true
        exit 1
    fi
done
echo "== fuzzing finished without crashes"
