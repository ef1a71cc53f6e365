#!/usr/bin/env bash
# `make deb`: the Debian package `swiftfl` from a release build, with dpkg-deb alone (no debhelper):
#   usr/bin, usr/share/swiftfl, usr/share/doc/swiftfl   as `make install PREFIX=/usr` lays them out
#   usr/share/swiftfl/examples/{director,envoy}.yaml    configurations for the services
#   lib/systemd/system/swiftfl-director.service, swiftfl-envoy@.service
#   usr/lib/sysusers.d/swiftfl.conf                     the system user the services run as
#   DEBIAN/control, postinst, prerm, postrm             from packaging/debian/
# Writes OUTPUT_DIR/swiftfl_<version>_<arch>.deb (version from `fx --version`, arch from dpkg) and
# prints its path, and nothing else, on standard output.
# Maintainer: "$DEBFULLNAME <$DEBEMAIL>" when both are set (the Debian convention), else git's user.
# SWIFTFL_DEB_XZ_LEVEL (0-9, default 6 as dpkg-deb's) trades size for time: the package test uses 1,
# the same files in a quarter of the time.
set -euo pipefail
usage="usage: make-deb.sh BUILD_DIR [OUTPUT_DIR]   (e.g. make-deb.sh .build/release .build)"
BIN=${1:?$usage}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${2:-$ROOT/.build}
umask 022
cd "$ROOT"
BIN=$(cd "$BIN" && pwd)
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
PKG=packaging/debian

for tool in dpkg-deb dpkg readelf strip; do
  command -v "$tool" >/dev/null || { echo "make-deb: $tool is missing (apt-get install dpkg-dev binutils)" >&2; exit 1; }
done
[ -x "$BIN/fx" ] || { echo "make-deb: $BIN/fx is missing; run make release first" >&2; exit 1; }

# `SwiftFL 0.1.0 (commit 0123456789ab)` -> 0.1.0
version=$("$BIN/fx" --version | sed -n 's/^SwiftFL \([^ ]*\) .*/\1/p')
[[ "$version" =~ ^[0-9][A-Za-z0-9.+~-]*$ ]] || {
  echo "make-deb: cannot read a Debian version from '$("$BIN/fx" --version)' ($BIN/fx --version)" >&2; exit 1; }
arch=$(dpkg --print-architecture)

if [ -n "${DEBFULLNAME:-}" ] && [ -n "${DEBEMAIL:-}" ]; then
  maintainer="$DEBFULLNAME <$DEBEMAIL>"
elif name=$(git config user.name) && email=$(git config user.email); then
  maintainer="$name <$email>"
else
  echo "make-deb: no maintainer: set DEBFULLNAME and DEBEMAIL (or git's user.name and user.email)" >&2; exit 1
fi

stage=$(mktemp -d "${TMPDIR:-/tmp}/swiftfl-deb.XXXXXX")
trap 'rm -rf "$stage"' EXIT
tree=$stage/swiftfl
install -d -m 0755 "$tree"
# install.sh's summary goes to standard error: standard output is only the package's path.
./scripts/install.sh "$BIN" "$tree/usr" >&2
install -d "$tree/lib/systemd/system" "$tree/usr/lib/sysusers.d" "$tree/usr/share/swiftfl/examples" "$tree/DEBIAN"
install -m 0644 "$PKG/swiftfl-director.service" "$PKG/swiftfl-envoy@.service" "$tree/lib/systemd/system/"
install -m 0644 "$PKG/sysusers.conf" "$tree/usr/lib/sysusers.d/swiftfl.conf"
install -m 0644 "$PKG"/examples/*.yaml "$tree/usr/share/swiftfl/examples/"
install -m 0755 "$PKG/postinst" "$PKG/prerm" "$PKG/postrm" "$tree/DEBIAN/"

# Depends, from what the executables load (what dpkg-shlibdeps would find, without a debian/ tree).
# The Swift runtime and Foundation are linked in (make release), so only the system's C and C++
# runtimes and OpenSSL remain; anything else is a mistake to fix here, not to ship.
libc=0 cxx=0 gcc=0 ssl=0
for exe in fx fx-aggregator fx-collaborator; do
  for lib in $(readelf -d "$tree/usr/bin/$exe" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
    case "$lib" in
      libc.so.*|libm.so.*|libpthread.so.*|libdl.so.*|librt.so.*|libutil.so.*|libresolv.so.*|ld-linux*.so.*) libc=1 ;;
      libstdc++.so.6) cxx=1 ;;
      libgcc_s.so.1) gcc=1 ;;
      libssl.so.3|libcrypto.so.3) ssl=1 ;;
      libswift*|libFoundation*|libdispatch*|libBlocksRuntime*)
        echo "make-deb: $exe needs $lib: the Swift runtime is not linked in; build with make release (--static-swift-stdlib)" >&2; exit 1 ;;
      *) echo "make-deb: $exe needs $lib, which no Debian package is known for; add it to the table in scripts/make-deb.sh" >&2; exit 1 ;;
    esac
  done
done
# libc6 at least as new as the newest GLIBC_ symbol version the executables ask for: an older glibc
# makes apt refuse the package instead of the loader refusing the program.
glibc=$(for exe in fx fx-aggregator fx-collaborator; do readelf -V --wide "$tree/usr/bin/$exe"; done |
  sed -n 's/.*Name: GLIBC_\([0-9][0-9.]*\) .*/\1/p' | sort -uV | tail -1)
# libstdc++6 likewise, from the newest GLIBCXX_ symbol version: Debian numbers the package by the
# GCC release that brought that version (GCC 10: 3.4.28, 11: 3.4.29, 12: 3.4.30, 13: 3.4.31-32, 14: 3.4.33).
glibcxx=$(for exe in fx fx-aggregator fx-collaborator; do readelf -V --wide "$tree/usr/bin/$exe"; done |
  sed -n 's/.*Name: GLIBCXX_3\.4\.\([0-9]*\) .*/\1/p' | sort -un | tail -1)
case "${glibcxx:-0}" in
  28) gcc_release=10 ;; 29) gcc_release=11 ;; 30) gcc_release=12 ;; 31|32) gcc_release=13 ;; 33) gcc_release=14 ;; *) gcc_release="" ;;
esac
depends=()
[ $libc = 1 ] && depends+=("libc6${glibc:+ (>= $glibc)}")
[ $cxx = 1 ] && depends+=("libstdc++6${gcc_release:+ (>= $gcc_release)}")
[ $gcc = 1 ] && depends+=("libgcc-s1")
# libssl3t64: the same library under its name from Debian 13 and Ubuntu 24.04 on.
[ $ssl = 1 ] && depends+=("libssl3 | libssl3t64")
depends_text=$(IFS=,; echo "${depends[*]}" | sed 's/,/, /g')

installed_size=$(du -sk --exclude=DEBIAN "$tree" | cut -f1)
sed -e "s/@VERSION@/$version/" -e "s/@ARCH@/$arch/" -e "s/@INSTALLED_SIZE@/$installed_size/" \
    -e "s/@DEPENDS@/$depends_text/" -e "s/@MAINTAINER@/${maintainer//\//\\/}/" "$PKG/control.in" > "$tree/DEBIAN/control"
chmod 0644 "$tree/DEBIAN/control"

deb="$OUT/swiftfl_${version}_${arch}.deb"
level=${SWIFTFL_DEB_XZ_LEVEL:-6}
[[ "$level" =~ ^[0-9]$ ]] || { echo "make-deb: SWIFTFL_DEB_XZ_LEVEL must be 0 to 9, not '$level'" >&2; exit 1; }
dpkg-deb --root-owner-group -Zxz -z"$level" --build "$tree" "$deb.tmp" >&2
mv -f "$deb.tmp" "$deb"
echo "$deb"
