# SwiftFL — the two commands a user needs are `make demo` and `make test`.
SWIFT ?= swift
BIN_DEBUG = .build/debug
BIN_RELEASE = .build/release

.PHONY: build release test demo bench fuzz clean

build:
	$(SWIFT) build

release:
	$(SWIFT) build -c release

test:
	$(SWIFT) build --build-tests -Xswiftc -warnings-as-errors
	$(SWIFT) test --skip-build --parallel

demo: build
	./scripts/demo.sh $(BIN_DEBUG)

bench: release
	$(BIN_RELEASE)/fx-bench --output bench-results.json

clean:
	rm -rf .build demo bench-results.json
