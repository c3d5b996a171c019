#!/bin/sh
# verify-unit.sh UNIT DRSND: run `systemd-analyze verify` on the generated
# drsnd.service, with ExecStart pointed at the freshly built drsnd (verify
# checks that the binary exists; the installed path may not, before install).
# Any warning about the unit fails the test.
set -eu
unit=$(readlink -f "$1") drsnd=$(readlink -f "$2")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
sed "s|^ExecStart=[^ ]*/drsnd |ExecStart=$drsnd |" "$unit" > "$tmp/drsnd.service"
grep -q "^ExecStart=$drsnd " "$tmp/drsnd.service" || { echo "ExecStart not rewritten" >&2; exit 1; }
out=$(systemd-analyze verify --man=no "$tmp/drsnd.service" 2>&1) || { echo "$out"; exit 1; }
# verify exits 0 on some warnings; treat any line about our unit as a failure.
if printf '%s\n' "$out" | grep -i "drsnd.service"; then
	exit 1
fi
echo "systemd-analyze verify: drsnd.service OK"
