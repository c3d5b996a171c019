#!/bin/bash
# .ci/deps on a machine of each architecture, with dpkg, dpkg-query, apt-get
# and id replaced by fakes on PATH (nothing is installed): on arm64 (a
# Raspberry Pi running 64-bit Debian 12) it must not ask for the aarch64 cross
# packages, one of which (gcc-aarch64-linux-gnu) Debian's arm64 archive does
# not have, so apt-get failed and with it .ci/test, but still for the armhf
# ones; on armhf (a Raspberry Pi 2/3 running 32-bit Debian 12) for neither,
# as neither cross compiler is in Debian's armhf archive; on amd64 for both,
# for .ci/test's cross builds.
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
# fake apt-get: as Debian's archives, arm64's without gcc-aarch64-linux-gnu,
# armhf's without it and gcc-arm-linux-gnueabihf
cat >"$tmp/bin/apt-get" <<'SH'
#!/bin/sh
echo "apt-get $*" >>"$FAKE_LOG"
case " $* " in *" update "*) exit 0 ;; esac
for p; do
	case "$FAKE_ARCH:$p" in
	arm64:gcc-aarch64-linux-gnu | armhf:gcc-aarch64-linux-gnu | armhf:gcc-arm-linux-gnueabihf)
		echo "E: Unable to locate package $p" >&2; exit 100 ;;
	esac
done
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
run_deps arm64 gcc-aarch64-linux-gnu qemu-user libcjson-dev:arm64 sox gcc-arm-linux-gnueabihf \
	libcjson-dev:armhf
rc=$?
[ $rc = 0 ] || fail "arm64: .ci/deps exited $rc"
grep -q 'apt-get .*install.* sox' "$tmp/log" || fail "arm64: sox was not installed"
grep -q -E 'gcc-aarch64-linux-gnu|:arm64' "$tmp/log" &&
	fail "arm64: .ci/deps asked for the aarch64 cross packages"
grep -q 'add-architecture arm64' "$tmp/log" && fail "arm64: .ci/deps added its own architecture"
grep -q 'apt-get .*install.* qemu-user gcc-arm-linux-gnueabihf libcjson-dev:armhf' "$tmp/log" ||
	fail "arm64: the armhf cross packages were not installed"
grep -q 'add-architecture armhf' "$tmp/log" || fail "arm64: armhf was not added"

# arm64, all there: nothing to do, even with the aarch64 cross packages absent
run_deps arm64 gcc-aarch64-linux-gnu libc6-dev-arm64-cross libsndfile1-dev:arm64
rc=$?
[ $rc = 0 ] && grep -q 'all Debian packages present' "$tmp/out" ||
	fail "arm64 without aarch64 cross packages: exit $rc, not 'all present'"

# armhf: neither cross build
run_deps armhf gcc-aarch64-linux-gnu gcc-arm-linux-gnueabihf qemu-user libcjson-dev:arm64 \
	libcjson-dev:armhf sox
rc=$?
[ $rc = 0 ] || fail "armhf: .ci/deps exited $rc"
grep -q 'apt-get .*install.* sox' "$tmp/log" || fail "armhf: sox was not installed"
grep -q -E 'gcc-|qemu-user|:arm64|:armhf' "$tmp/log" && fail "armhf: .ci/deps asked for cross packages"
grep -q 'add-architecture' "$tmp/log" && fail "armhf: .ci/deps added an architecture"

# armhf, all there: nothing to do, even with every cross package absent
run_deps armhf gcc-aarch64-linux-gnu gcc-arm-linux-gnueabihf libc6-dev-armhf-cross qemu-user \
	libsndfile1-dev:armhf
rc=$?
[ $rc = 0 ] && grep -q 'all Debian packages present' "$tmp/out" ||
	fail "armhf without cross packages: exit $rc, not 'all present'"

# amd64: both cross builds' packages and architectures
run_deps amd64 gcc-aarch64-linux-gnu libsndfile1-dev:arm64 gcc-arm-linux-gnueabihf libsndfile1-dev:armhf
rc=$?
[ $rc = 0 ] || fail "amd64: .ci/deps exited $rc"
grep -q 'apt-get .*install.* gcc-aarch64-linux-gnu libsndfile1-dev:arm64 gcc-arm-linux-gnueabihf libsndfile1-dev:armhf' \
	"$tmp/log" || fail "amd64: the cross packages were not installed"
grep -q 'add-architecture arm64' "$tmp/log" || fail "amd64: arm64 was not added"
grep -q 'add-architecture armhf' "$tmp/log" || fail "amd64: armhf was not added"

# build only: never the cross packages
FAKE_ARCH=amd64 FAKE_MISSING="gcc-aarch64-linux-gnu gcc-arm-linux-gnueabihf" FAKE_LOG="$tmp/log" PATH="$tmp/bin:$PATH" \
	sh "$root/.ci/deps" build >"$tmp/out" 2>&1 && grep -q 'all Debian packages present' "$tmp/out" ||
	fail "amd64 build: asked for the cross packages"

# A mirror in the middle of a sync: apt-get fails $FAKE_APT_FAILS times, then
# works. .ci/deps must try again (sleep is a fake that only logs), and give up
# with a message naming the packages after three failures.
cat >"$tmp/bin/sleep" <<'SH'
#!/bin/sh
echo "sleep $*" >>"$FAKE_LOG"
SH
cat >"$tmp/bin/apt-get" <<'SH'
#!/bin/sh
echo "apt-get $*" >>"$FAKE_LOG"
n=$(grep -c '^apt-get' "$FAKE_LOG")
if [ "$n" -le "$FAKE_APT_FAILS" ]; then
	echo "E: Failed to fetch .../Packages.xz  Hash Sum mismatch" >&2; exit 100
fi
exit 0
SH
chmod +x "$tmp/bin/"*
FAKE_APT_FAILS=2 run_deps amd64 sox
rc=$?
[ $rc = 0 ] || fail "mirror sync: .ci/deps exited $rc after two failed tries"
[ "$(grep -c 'update' "$tmp/log")" = 3 ] || fail "mirror sync: not three apt-get updates"
grep -q 'apt-get .*install.* sox' "$tmp/log" || fail "mirror sync: sox was not installed"
grep -q 'sleep 30' "$tmp/log" && grep -q 'sleep 90' "$tmp/log" || fail "mirror sync: no pause between tries"
FAKE_APT_FAILS=9 run_deps amd64 sox
rc=$?
[ $rc != 0 ] || fail "broken mirror: .ci/deps exited 0"
grep -q 'apt-get failed three times; could not install: sox' "$tmp/out" ||
	fail "broken mirror: no message naming the packages"

if [ $fails = 0 ]; then echo "deps-arch: 8 passed, 0 failed"; else echo "deps-arch: $fails failed"; fi
[ $fails = 0 ]
