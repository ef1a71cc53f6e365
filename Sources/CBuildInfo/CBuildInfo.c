// The commit is a private header that `make` (scripts/build-info.sh) rewrites only when it changes,
// so a new commit recompiles this one file and relinks; no Swift module sees the header.
#include "CBuildInfo.h"

#if __has_include("build_commit.h")
#include "build_commit.h"
#endif

#ifndef SWIFTFL_BUILD_COMMIT
#define SWIFTFL_BUILD_COMMIT "unknown"
#endif

const char *swiftfl_build_commit(void) { return SWIFTFL_BUILD_COMMIT; }
