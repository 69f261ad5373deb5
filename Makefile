# The README's two commands: `make run` and `make test`. Everything else is a helper for them.
BUILD_DIR ?= build
BUILD_TYPE ?= Release
JOBS ?= 2
LISTEN ?= 127.0.0.1:8080
DATA_DIR ?= ./data
CMAKE_FLAGS ?=
ifdef CI
CMAKE_FLAGS += -DRELAY_WERROR=ON
endif

.PHONY: all deps configure build run test format clean

all: build

deps:
	@bash scripts/install-deps

configure: deps
	@cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) $(CMAKE_FLAGS) >/dev/null

build: configure
	@cmake --build $(BUILD_DIR) -j$(JOBS)

run: build
	$(BUILD_DIR)/consent-relay serve --listen $(LISTEN) --data-dir $(DATA_DIR)

test: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j$(JOBS)

format:
	@git ls-files '*.h' '*.cc' | xargs clang-format -i

clean:
	rm -rf $(BUILD_DIR)
