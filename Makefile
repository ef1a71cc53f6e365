# SwiftFL — the two commands a user needs are `make demo` and `make test`.
SWIFT ?= swift
BIN_DEBUG = .build/debug
BIN_RELEASE = .build/release
# Release executables carry the Swift runtime and Foundation inside them: a site needs only libc,
# libstdc++ and libssl3, not a Swift toolchain.
RELEASE_FLAGS = -c release --static-swift-stdlib
# `make install PREFIX=/opt/swiftfl DESTDIR=/tmp/stage`: bin/ and share/swiftfl/ under DESTDIR+PREFIX.
PREFIX ?= /usr/local
DESTDIR ?=

.PHONY: build release test demo bench fuzz clean install build-info deb

# The commit `fx --version` prints (a header ignored by git, rewritten only when the commit changes).
build-info:
	@./scripts/build-info.sh

build: build-info
	$(SWIFT) build

release: build-info
	$(SWIFT) build $(RELEASE_FLAGS)

# The release is built first: the install and package tests use it (they cannot run `swift build`
# while `swift test` holds the build folder).
test: release
	$(SWIFT) build --build-tests -Xswiftc -warnings-as-errors
	$(SWIFT) test --skip-build --parallel

install: release
	./scripts/install.sh $(BIN_RELEASE) "$(DESTDIR)$(PREFIX)"

# `make deb`: .build/swiftfl_<version>_<arch>.deb, the executables, templates, systemd services
# and system user for a site or a Director (README: "Installing a site from the Debian package").
deb: release
	./scripts/make-deb.sh $(BIN_RELEASE) .build

demo: build
	./scripts/demo.sh $(BIN_DEBUG)

# fx-bench compares our TLS stream with the same stream made by a plain C program on the same
# OpenSSL (scripts/bench/tls_stream.c), which it finds beside itself. One benchmark alone, after a
# release build: `.build/release/fx-bench --only concurrency` (several: --only a,b; names: fx-bench --help;
# `concurrency` is the two-experiments target with simulated site compute, `concurrency-cpu` the same
# with built-in training on this machine, for information).
bench: release
	cc -O2 -Wall -o $(BIN_RELEASE)/tls-stream-reference scripts/bench/tls_stream.c $$(pkg-config --cflags --libs openssl)
	$(BIN_RELEASE)/fx-bench --output bench-results.json

# Fuzzing: each libFuzzer target (Sources/fx-fuzz) runs FUZZ_SECONDS with the committed seeds in
# Tests/FuzzCorpus/<target> as a read-only corpus and a temporary working corpus; crash inputs go to
# .build-fuzz/artifacts/<target>/, logs to .build-fuzz/fuzz-<target>.log. Fails if any target crashes.
# Release build (about 4x the executions/s of debug); its own scratch path, so `.build` is untouched.
# A single allocation over 64 MB (inputs are a few KB), or one input taking over 10 s, counts as a crash.
# Swift's own backtracer is off: it trips AddressSanitizer and leaves a child holding the log open;
# libFuzzer prints the stack of a crash itself. FUZZ_OPTIONS adds libFuzzer flags, e.g. FUZZ_OPTIONS=-use_value_profile=1 for long runs.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?= frame message plan archive safetensors http
FUZZ_OPTIONS ?=
FUZZ_BUILD = .build-fuzz
FUZZ_FLAGS = -c release --scratch-path $(FUZZ_BUILD) --product fx-fuzz \
	-Xswiftc -sanitize=fuzzer,address -Xswiftc -DFUZZING -Xswiftc -Xclang-linker -Xswiftc -fuse-ld=lld

fuzz:
	$(SWIFT) build $(FUZZ_FLAGS)
	@failed=""; \
	for t in $(FUZZ_TARGETS); do \
		work=$$(mktemp -d); log=$(FUZZ_BUILD)/fuzz-$$t.log; mkdir -p $(FUZZ_BUILD)/artifacts/$$t; \
		echo "fuzz $$t: $(FUZZ_SECONDS) s, seeds Tests/FuzzCorpus/$$t"; \
		FX_FUZZ_TARGET=$$t SWIFT_BACKTRACE=enable=no $(FUZZ_BUILD)/release/fx-fuzz -max_total_time=$(FUZZ_SECONDS) -timeout=10 \
			-malloc_limit_mb=64 -print_final_stats=1 $(FUZZ_OPTIONS) -artifact_prefix=$(FUZZ_BUILD)/artifacts/$$t/ $$work Tests/FuzzCorpus/$$t >$$log 2>&1; \
		status=$$?; rm -rf $$work; \
		grep -E '^#[0-9]+[[:space:]]+DONE' $$log | tail -1 | sed 's/^/  /'; \
		grep -E '^stat::(number_of_executed_units|average_exec_per_sec)' $$log | sed 's/^/  /'; \
		if [ $$status -ne 0 ]; then \
			failed="$$failed $$t"; \
			grep -E 'ERROR: |SUMMARY: |Fatal error|Test unit written to|^artifact_prefix' $$log | sed 's/^/  /'; \
		fi; \
	done; \
	if [ -n "$$failed" ]; then echo "fuzz: crashes in:$$failed (see $(FUZZ_BUILD)/artifacts and logs)"; exit 1; fi; \
	echo "fuzz: no crashes in $(FUZZ_TARGETS)"

clean:
	rm -rf .build demo bench-results.json
