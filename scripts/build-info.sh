#!/usr/bin/env bash
# Writes Sources/CBuildInfo/build_commit.h (ignored by git) with the commit being built, "-dirty"
# when tracked files differ from it. The file is replaced only when its text changes, so an
# unchanged commit costs no recompilation. Outside a git checkout the commit is "unknown".
set -euo pipefail
cd "$(dirname "$0")/.."
header=Sources/CBuildInfo/build_commit.h
commit=unknown
if git rev-parse --git-dir >/dev/null 2>&1; then
  commit=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
  if [ "$commit" != unknown ] && ! git diff --quiet HEAD -- 2>/dev/null; then commit="$commit-dirty"; fi
fi
text="#define SWIFTFL_BUILD_COMMIT \"$commit\""
if [ ! -f "$header" ] || [ "$(cat "$header")" != "$text" ]; then
  printf '%s\n' "$text" > "$header.tmp"
  mv "$header.tmp" "$header"
fi
