#!/bin/sh
# verify-unit.sh UNIT DRSND [BASE]: run `systemd-analyze verify` on the
# generated drsnd.service or drsnd@.service, with ExecStart pointed at the
# freshly built drsnd (verify checks that the binary exists; the installed
# path may not, before install). Any warning about the unit fails the test.
# The template is checked as its instance drsnd@test.service (%i expanded),
# and with BASE (drsnd.service) given it must equal BASE but for the lines
# that name the instance: the hardening of the two cannot drift apart.
set -eu
unit=$(readlink -f "$1") drsnd=$(readlink -f "$2")
name=$(basename "$unit")
case $name in *@.service) name=${name%@.service}@test.service ;; esac
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
sed "s|^ExecStart=[^ ]*/drsnd |ExecStart=$drsnd |" "$unit" > "$tmp/$name"
grep -q "^ExecStart=$drsnd " "$tmp/$name" || { echo "ExecStart not rewritten" >&2; exit 1; }
out=$(systemd-analyze verify --man=no "$tmp/$name" 2>&1) || { echo "$out"; exit 1; }
# verify exits 0 on some warnings; treat any line about our unit as a failure.
if printf '%s\n' "$out" | grep -iF "$name"; then
	exit 1
fi
echo "systemd-analyze verify: $name OK"
if [ $# -ge 3 ]; then
	# settings only, without the keys that name the instance
	keys() { grep -v -e '^#' -e '^$' -e '^Description=' -e '^ExecStart=' -e '^RuntimeDirectory=' \
		-e '^SyslogIdentifier=' "$1"; }
	keys "$3" > "$tmp/base.keys"
	keys "$unit" > "$tmp/unit.keys"
	if ! diff -u "$tmp/base.keys" "$tmp/unit.keys"; then
		echo "$name: differs from $(basename "$3") in more than the instance's lines" >&2
		exit 1
	fi
	grep -q '^ExecStart=.* --config [^ ]*/%i\.conf --socket /run/drsnd-%i/drsnd\.sock ' "$unit" &&
		grep -qx 'RuntimeDirectory=drsnd-%i' "$unit" ||
		{ echo "$name: ExecStart or RuntimeDirectory does not name the instance (%i)" >&2; exit 1; }
	echo "$name: same settings as $(basename "$3") but for the instance's config, socket, runtime folder"
fi
# Restart=on-failure must give up on a drsnd that cannot start: StartLimitBurst
# restarts RestartSec apart must fit in StartLimitIntervalSec (systemd's
# defaults 5 and 10 s; seconds, as "2s" or "2").
limit=$(awk -F= '
	function sec(v) { sub(/s$/, "", v); return v + 0 }
	$1 == "RestartSec" { r = sec($2) } $1 == "StartLimitIntervalSec" { i = sec($2) }
	$1 == "StartLimitBurst" { b = $2 + 0 }
	END { if (!i) i = 10; if (!b) b = 5; if (!r) r = 0.1
	      printf "%d restarts %ss apart in %ss: %s", b, r, i, (b * r < i) ? "gives up" : "never gives up" }
	' "$tmp/$name")
echo "restart limit: $limit"
case $limit in *"never gives up") exit 1 ;; esac
# The hardening must keep the exposure score low (0.6 when written; the
# remaining points are what a capture daemon needs: ALSA devices, the audio
# group, AF_UNIX).
sec=$(systemd-analyze security --offline=yes "$tmp/$name" 2>&1) || { echo "$sec"; exit 1; }
score=$(printf '%s\n' "$sec" | sed -n "s/.*Overall exposure level for $name: \([0-9.]*\).*/\1/p")
echo "systemd-analyze security: exposure $score"
[ -n "$score" ] && awk -v s="$score" 'BEGIN { exit !(s <= 1.0) }' || { printf '%s\n' "$sec"; exit 1; }
