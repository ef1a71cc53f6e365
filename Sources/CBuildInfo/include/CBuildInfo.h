#ifndef SWIFTFL_CBUILDINFO_H
#define SWIFTFL_CBUILDINFO_H

/// The commit this build was made from (`make` writes it; "unknown" for a plain `swift build`).
const char *swiftfl_build_commit(void);

#endif
