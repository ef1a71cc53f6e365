#!/usr/bin/env bash
# `make install`: copies a release build into DEST (DESTDIR + PREFIX):
#   DEST/bin/fx, fx-aggregator, fx-collaborator   (one stripped binary and two hard links to it; it needs only
#                                                  libc, libstdc++ and libssl3)
#   DEST/share/swiftfl/plans/defaults/            (plan defaults)
#   DEST/share/swiftfl/workspaces/                (workspace templates and the example federation)
#   DEST/share/doc/swiftfl/                       (README and docs)
# `fx` finds share/swiftfl beside its own bin/ folder, so the prefix can be anything.
set -euo pipefail
BIN=${1:?usage: install.sh BUILD_DIR DEST}
DEST=${2:?usage: install.sh BUILD_DIR DEST}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
[ -x "$BIN/fx" ] || { echo "install: $BIN/fx is missing; run make release first" >&2; exit 1; }
install -d "$DEST/bin" "$DEST/share/swiftfl" "$DEST/share/doc/swiftfl"
# One binary: fx answers as fx-aggregator and fx-collaborator when run under those names (hard
# links), so the Swift runtime and Foundation it carries are installed once, not three times.
install -m 0755 "$BIN/fx" "$DEST/bin/fx.tmp"
strip --strip-unneeded "$DEST/bin/fx.tmp"
mv -f "$DEST/bin/fx.tmp" "$DEST/bin/fx"
for exe in fx-aggregator fx-collaborator; do
  ln -f "$DEST/bin/fx" "$DEST/bin/$exe.tmp"
  mv -f "$DEST/bin/$exe.tmp" "$DEST/bin/$exe"
done
# Replaced whole, so a file removed from a template does not linger from an older install.
for tree in plans workspaces; do
  rm -rf "$DEST/share/swiftfl/$tree.new"
  cp -R "$tree" "$DEST/share/swiftfl/$tree.new"
  find "$DEST/share/swiftfl/$tree.new" -type d -exec chmod 0755 {} + -o -type f -exec chmod 0644 {} +
  rm -rf "$DEST/share/swiftfl/$tree"
  mv "$DEST/share/swiftfl/$tree.new" "$DEST/share/swiftfl/$tree"
done
install -m 0644 README.md "$DEST/share/doc/swiftfl/README.md"
install -m 0644 docs/*.md "$DEST/share/doc/swiftfl/"
echo "installed $("$DEST/bin/fx" --version) into $DEST"
