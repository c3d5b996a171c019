#!/bin/sh
# Print the denoiser benchmark (docs/denoise.md): makes the speech material
# once under BUILD/denoise-material, then runs BUILD/src/bench-denoise with
# the real-noise recording from Debian's lincity-ng-data (a crowded market,
# 44.1 kHz). Extra arguments go to bench-denoise (e.g. --rate 48000, --seed 2).
#
#   tests/bench/denoise_bench.sh build [ARGS...]
set -eu
build=${1:?usage: denoise_bench.sh BUILD_DIR [bench-denoise args...]}
shift
here=$(dirname "$0")
noise=/usr/share/games/lincity-ng/sounds/MarketFull1.wav
[ -r "$noise" ] || { echo "denoise_bench: $noise missing: apt-get install lincity-ng-data" >&2; exit 1; }
[ -x "$build/src/bench-denoise" ] || { echo "denoise_bench: $build/src/bench-denoise missing: configure with -Dbench=enabled and build" >&2; exit 1; }
"$here/denoise_material.sh" "$build/denoise-material" >/dev/null
exec "$build/src/bench-denoise" --material "$build/denoise-material" --noise "$noise" "$@"
