#!/bin/bash
# .ci/deps on a machine of each architecture, with dpkg, dpkg-query, apt-get
# and id replaced by fakes on PATH (nothing is installed): on arm64 (a
# Raspberry Pi running Debian 12) it must not ask for the aarch64 cross
# packages, one of which (gcc-aarch64-linux-gnu) Debian's arm64 archive does
# not have, so apt-get failed and with it .ci/test; on amd64 it still
# installs them for .ci/test's cross build.
#   usage: deps_arch.sh SOURCE_ROOT
set -u
root=$1
tmp=$(mktemp -d /tmp/drsn-deps-arch-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/bin"
fails=0

# fake dpkg: the architecture in $FAKE_ARCH, no foreign one; --add-architecture logged
cat >"$tmp/bin/dpkg" <<'SH'
#!/bin/sh
case "$1" in
--print-architecture) echo "$FAKE_ARCH" ;;
--print-foreign-architectures) ;;
--add-architecture) echo "add-architecture $2" >>"$FAKE_LOG" ;;
*) exit 2 ;;
esac
SH
# fake dpkg-query: every package is installed but the ones in $FAKE_MISSING
cat >"$tmp/bin/dpkg-query" <<'SH'
#!/bin/sh
for p; do :; done
case " $FAKE_MISSING " in *" $p "*) exit 1 ;; esac
printf 'install ok installed'
SH
# fake apt-get: as Debian's arm64 archive, which has no gcc-aarch64-linux-gnu
cat >"$tmp/bin/apt-get" <<'SH'
#!/bin/sh
echo "apt-get $*" >>"$FAKE_LOG"
[ "$1" = update ] && exit 0
if [ "$FAKE_ARCH" = arm64 ]; then
	for p; do
		case "$p" in gcc-aarch64-linux-gnu) echo "E: Unable to locate package $p" >&2; exit 100 ;; esac
	done
fi
exit 0
SH
printf '#!/bin/sh\necho 0\n' >"$tmp/bin/id"
chmod +x "$tmp/bin/"*

# run_deps ARCH MISSING...: .ci/deps's exit status; the log in $tmp/log
run_deps() {
	local arch=$1; shift
	: >"$tmp/log"
	FAKE_ARCH=$arch FAKE_MISSING="$*" FAKE_LOG="$tmp/log" PATH="$tmp/bin:$PATH" \
		sh "$root/.ci/deps" >"$tmp/out" 2>&1
}
fail() { echo "FAIL: $*"; sed 's/^/  | /' "$tmp/out" "$tmp/log"; fails=$((fails + 1)); }

# arm64, nothing installed yet of the cross packages nor of one test package
run_deps arm64 gcc-aarch64-linux-gnu qemu-user libcjson-dev:arm64 sox
rc=$?
[ $rc = 0 ] || fail "arm64: .ci/deps exited $rc"
grep -q 'apt-get install.* sox' "$tmp/log" || fail "arm64: sox was not installed"
grep -q -E 'gcc-aarch64-linux-gnu|qemu-user|:arm64' "$tmp/log" &&
	fail "arm64: .ci/deps asked for the cross packages"
grep -q 'add-architecture' "$tmp/log" && fail "arm64: .ci/deps added its own architecture"

# arm64, all there: nothing to do, even with the cross packages absent
run_deps arm64 gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user
rc=$?
[ $rc = 0 ] && grep -q 'all Debian packages present' "$tmp/out" ||
	fail "arm64 without cross packages: exit $rc, not 'all present'"

# amd64: the cross build's packages and the arm64 architecture as before
run_deps amd64 gcc-aarch64-linux-gnu libsndfile1-dev:arm64
rc=$?
[ $rc = 0 ] || fail "amd64: .ci/deps exited $rc"
grep -q 'apt-get install.* gcc-aarch64-linux-gnu libsndfile1-dev:arm64' "$tmp/log" ||
	fail "amd64: the cross packages were not installed"
grep -q 'add-architecture arm64' "$tmp/log" || fail "amd64: arm64 was not added"

# build only: never the cross packages
run_deps amd64 gcc-aarch64-linux-gnu
FAKE_ARCH=amd64 FAKE_MISSING="gcc-aarch64-linux-gnu" FAKE_LOG="$tmp/log" PATH="$tmp/bin:$PATH" \
	sh "$root/.ci/deps" build >"$tmp/out" 2>&1 && grep -q 'all Debian packages present' "$tmp/out" ||
	fail "amd64 build: asked for the cross packages"

if [ $fails = 0 ]; then echo "deps-arch: 4 passed, 0 failed"; else echo "deps-arch: $fails failed"; fi
[ $fails = 0 ]
