# spigate: the front door. `make run` and `make test` do all set-up on a fresh
# Debian 12 machine (they install what is missing, then build).
BUILD   ?= build
MESON_OPTS ?=
PY      := /usr/bin/python3

.PHONY: all deps build run test unit functional bench clean

all: build

deps:
	@./scripts/install-deps.sh

$(BUILD)/build.ninja:
	meson setup $(BUILD) $(MESON_OPTS)

build: deps $(BUILD)/build.ninja
	ninja -C $(BUILD)

run: build
	./scripts/run-demo.sh $(BUILD)

unit: build
	./tests/run-tests.sh $(BUILD) unit

functional: build
	./tests/run-tests.sh $(BUILD) functional

test: build
	./tests/run-tests.sh $(BUILD) all

bench: build
	./bench/run.sh $(BUILD) $(if $(QUICK),--quick)

# the churn test under AddressSanitizer (its own build dir, build-asan)
.PHONY: asan-churn
asan-churn: deps
	./tests/asan-churn.sh build-asan

clean:
	rm -rf $(BUILD)
