#!/bin/sh
# Builds the openrras Debian package from a workspace build, with dpkg-deb.
#
#   dist/deb/build-deb.sh                      # cargo build --release, then package
#   dist/deb/build-deb.sh --profile debug --no-build --out /tmp/deb
#   dist/deb/build-deb.sh --no-build --bin-dir /build/target/release
#
# Binaries are taken from $CARGO_TARGET_DIR/PROFILE (./target/PROFILE when
# unset), or from --bin-dir.
#
# The package: /usr/sbin/rrasd, /usr/bin/rasctl, libmprapi.so + mprapi.h +
# the porting kit (/usr/include/mprapi/, libmprapi_kit.a) + mprapi.pc, the hardened systemd unit, /etc/rrasd/rrasd.toml (a conffile,
# every key commented), manual pages, shell completions. Installing creates
# the system user `rrasd` and the admin group `rrasadmin`; it neither
# enables nor starts the service. Purging removes the user, the group, the
# configuration and the state; removing keeps them.
set -eu

PROFILE=release
BUILD=1
OUT=
BIN=
while [ $# -gt 0 ]; do
    case "$1" in
        --profile) PROFILE=$2; shift 2 ;;
        --no-build) BUILD=; shift ;;
        --out) OUT=$2; shift 2 ;;
        --bin-dir) BIN=$2; shift 2 ;;
        -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
        *) echo "build-deb.sh: unknown argument $1 (try --help)" >&2; exit 2 ;;
    esac
done

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
OUT=${OUT:-$TARGET/deb}
VERSION=$(sed -n 's/^version = "\(.*\)"/\1/p' "$ROOT/Cargo.toml" | head -n1)
ARCH=$(dpkg --print-architecture)
MULTIARCH=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -print-multiarch)
BIN=${BIN:-$TARGET/$PROFILE}

if [ -n "$BUILD" ]; then
    if [ "$PROFILE" = release ]; then
        cargo build --release -p rrasd -p rasctl -p mprapi
    else
        cargo build -p rrasd -p rasctl -p mprapi
    fi
fi
LIB=$BIN/libmprapi.so
[ -f "$LIB" ] || LIB=$BIN/deps/libmprapi.so
for f in "$BIN/rrasd" "$BIN/rasctl" "$LIB"; do
    [ -f "$f" ] || { echo "build-deb.sh: $f is missing (build first, or drop --no-build)" >&2; exit 1; }
done

STAGE=$(mktemp -d)
trap 'rm -rf "$STAGE"' EXIT
chmod 0755 "$STAGE"
install -D -m 0755 "$BIN/rrasd" "$STAGE/usr/sbin/rrasd"
install -D -m 0755 "$BIN/rasctl" "$STAGE/usr/bin/rasctl"
install -D -m 0644 "$LIB" "$STAGE/usr/lib/$MULTIARCH/libmprapi.so"
# Without debug info, as Debian ships binaries.
strip --strip-debug "$STAGE/usr/sbin/rrasd" "$STAGE/usr/bin/rasctl" "$STAGE/usr/lib/$MULTIARCH/libmprapi.so"
# Headers and the porting kit in their own folder (its windows.h must not
# shadow anything); <mprapi.h> still works from the top.
install -d "$STAGE/usr/include/mprapi/openrras"
install -m 0644 "$ROOT"/crates/mprapi/include/*.h "$STAGE/usr/include/mprapi/"
install -m 0644 "$ROOT"/crates/mprapi/include/openrras/*.h "$STAGE/usr/include/mprapi/openrras/"
printf '/* openrras libmprapi: see mprapi/mprapi.h */\n#include "mprapi/mprapi.h"\n' > "$STAGE/usr/include/mprapi.h"
make -s -C "$ROOT" kit KITDIR="$STAGE/kit-build"
install -m 0644 "$STAGE/kit-build/libmprapi_kit.a" "$STAGE/usr/lib/$MULTIARCH/libmprapi_kit.a"
rm -rf "$STAGE/kit-build"
install -d "$STAGE/usr/lib/$MULTIARCH/pkgconfig"
sed -e 's|@PREFIX@|/usr|' -e 's|@VERSION@|'"$VERSION"'|' -e 's|^libdir=.*|libdir=${prefix}/lib/'"$MULTIARCH"'|' \
    -e 's| -Wl,-rpath,${libdir}||' \
    "$ROOT/crates/mprapi/mprapi.pc.in" > "$STAGE/usr/lib/$MULTIARCH/pkgconfig/mprapi.pc"
# The unit, with the packaged paths; the daemon may chown its socket to the
# admin group.
install -d "$STAGE/lib/systemd/system"
sed -e 's|/usr/local/bin/rrasd|/usr/sbin/rrasd|' \
    -e 's|^Group=rrasd$|Group=rrasd\nSupplementaryGroups=rrasadmin|' \
    "$ROOT/dist/rrasd.service" > "$STAGE/lib/systemd/system/rrasd.service"
install -D -m 0640 "$ROOT/dist/rrasd.toml" "$STAGE/etc/rrasd/rrasd.toml"
install -d "$STAGE/usr/share/man/man8" "$STAGE/usr/share/man/man1" "$STAGE/usr/share/man/man5" "$STAGE/usr/share/man/man3"
"$BIN/rrasd" --print-man | gzip -9n > "$STAGE/usr/share/man/man8/rrasd.8.gz"
"$BIN/rrasd" --print-config-man | gzip -9n > "$STAGE/usr/share/man/man5/rrasd.toml.5.gz"
"$BIN/rasctl" man | gzip -9n > "$STAGE/usr/share/man/man1/rasctl.1.gz"
gzip -9n < "$ROOT/crates/mprapi/man/mprapi.3" > "$STAGE/usr/share/man/man3/mprapi.3.gz"
install -d "$STAGE/usr/share/bash-completion/completions" "$STAGE/usr/share/zsh/vendor-completions" \
    "$STAGE/usr/share/fish/vendor_completions.d"
"$BIN/rasctl" completions bash > "$STAGE/usr/share/bash-completion/completions/rasctl"
"$BIN/rasctl" completions zsh > "$STAGE/usr/share/zsh/vendor-completions/_rasctl"
"$BIN/rasctl" completions fish > "$STAGE/usr/share/fish/vendor_completions.d/rasctl.fish"
install -d "$STAGE/usr/share/doc/openrras"
for f in README.md ARCHITECTURE.md; do gzip -9n < "$ROOT/$f" > "$STAGE/usr/share/doc/openrras/$f.gz"; done
cp -r "$ROOT/docs" "$STAGE/usr/share/doc/openrras/docs"
cp "$ROOT/dist/deb/copyright" "$STAGE/usr/share/doc/openrras/copyright"

install -d "$STAGE/DEBIAN"
SIZE=$(du -sk "$STAGE" | cut -f1)
cat > "$STAGE/DEBIAN/control" <<CONTROL
Package: openrras
Version: $VERSION
Architecture: $ARCH
Maintainer: openrras developers <openrras@localhost>
Installed-Size: $SIZE
Depends: libc6, passwd
Recommends: man-db
Section: net
Priority: optional
Homepage: https://github.com/openrras/openrras
Description: Windows RRAS remote-access administration API for Linux VPN servers
 rrasd learns VPN sessions from RADIUS accounting, WireGuard, OpenVPN,
 ocserv and strongSwan and serves them through MprAdminConnectionEnumEx
 and friends: rasctl on the command line, libmprapi for C programs written
 against the Windows API.
CONTROL
echo /etc/rrasd/rrasd.toml > "$STAGE/DEBIAN/conffiles"
for script in postinst prerm postrm; do
    install -m 0755 "$ROOT/dist/deb/$script" "$STAGE/DEBIAN/$script"
done

mkdir -p "$OUT"
DEB=$OUT/openrras_${VERSION}_${ARCH}.deb
dpkg-deb --root-owner-group --build "$STAGE" "$DEB" >/dev/null
echo "$DEB"
