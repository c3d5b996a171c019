#!/bin/sh
# Clean speech for bench-denoise: 8 clips of two Harvard sentences each,
# spoken by voices from the synthetic corpus's held-out *testing* split
# (train/corpus/voices.py: espeak-ng accents en-029 / en-us-nyc with testing
# variants, and flite's rms), each padded with 0.5 s of silence at both ends
# so the clips hold pauses as real utterances do. Deterministic: the same
# files every run. Needs espeak-ng, flite and sox (all in .ci/deps).
#
#   tests/bench/denoise_material.sh OUTDIR
set -eu
out=${1:?usage: denoise_material.sh OUTDIR}
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# voice|sentences (IEEE/Harvard sentence lists 1-2, public domain)
i=0
while IFS='|' read -r voice text; do
	[ -n "$voice" ] || continue
	i=$((i + 1))
	f=$(printf '%s/clip_%02d.wav' "$out" "$i")
	[ -s "$f" ] && continue
	case $voice in
	flite:*) flite -voice "${voice#flite:}" -t "$text" -o "$tmp/raw.wav" ;;
	espeak:*) espeak-ng -v "${voice#espeak:}" -s 155 -w "$tmp/raw.wav" "$text" ;;
	esac
	sox -q "$tmp/raw.wav" -b 16 "$tmp/pad.wav" pad 0.5 0.5
	mv "$tmp/pad.wav" "$f"
done <<'LIST'
espeak:en-029+adam|The birch canoe slid on the smooth planks. Glue the sheet to the dark blue background.
espeak:en-us-nyc+aunty|It's easy to tell the depth of a well. These days a chicken leg is a rare dish.
flite:rms|Rice is often served in round bowls. The juice of lemons makes fine punch.
espeak:en-029+steph2|The box was thrown beside the parked truck. The hogs were fed chopped corn and garbage.
espeak:en-us-nyc+klatt6|Four hours of steady work faced us. A large size in stockings is hard to sell.
flite:rms|The boy was there when the sun rose. A rod is used to catch pink salmon.
espeak:en-us-nyc+gustave|The source of the huge river is the clear spring. Kick the ball straight and follow through.
espeak:en-029+marcelo|Help the woman get back to her feet. A pot of tea helps to pass the evening.
LIST
echo "denoise material: $i clips in $out"
