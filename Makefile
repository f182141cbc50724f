# The two entry points of the README: `make demo` and `make test`. Both set up and build first.
BUILD ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: setup build demo test fuzz clean

setup:
	@bash scripts/setup

build: setup
	@cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

demo: build
	@bash scripts/demo $(BUILD)

test: build
	@bash scripts/run_tests $(BUILD)

fuzz: setup
	@bash scripts/run_fuzzers

clean:
	rm -rf $(BUILD) build-fuzz
