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

SAN_DIR ?= build-asan
TSAN_DIR ?= build-tsan
FUZZ_SECONDS ?= 60
# Sanitizer runs: fail on the first report, with a stack.
SAN_ENV = ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1 \
          UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

.PHONY: bench all deps configure build run test test-plain test-sanitized sanitized-build tsan fuzz \
        format clean install package

all: build

deps:
	@bash scripts/install-deps

configure: deps
	@cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) $(CMAKE_FLAGS) >/dev/null

build: configure
	@cmake --build $(BUILD_DIR) -j$(JOBS)

run: build
	$(BUILD_DIR)/consent-relay serve --listen $(LISTEN) --data-dir $(DATA_DIR)

# Every test twice: the Release build, then clang with AddressSanitizer + UBSan (which also
# runs each fuzz target for a few seconds over its corpus).
test: test-plain test-sanitized

test-plain: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j$(JOBS)

sanitized-build: deps
	@CC=clang CXX=clang++ cmake -S . -B $(SAN_DIR) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DRELAY_SANITIZE=address,undefined -DRELAY_FUZZ=ON $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(SAN_DIR) -j$(JOBS)

test-sanitized: sanitized-build
	cd $(SAN_DIR) && $(SAN_ENV) ctest --output-on-failure -j$(JOBS)

# ThreadSanitizer over the server, dispatcher and end-to-end tests.
tsan: deps
	@CC=clang CXX=clang++ cmake -S . -B $(TSAN_DIR) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DRELAY_SANITIZE=thread $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(TSAN_DIR) -j$(JOBS)
	cd $(TSAN_DIR) && TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
	  ctest --output-on-failure -j$(JOBS) -R 'Delivery|OAuth|Ssrf|Server|Crash|Api'

# Each fuzz target for FUZZ_SECONDS; new inputs land in build-asan/fuzz/found/<target>.
fuzz: sanitized-build
	@for t in $$(ls $(SAN_DIR)/fuzz | grep '^fuzz_' | grep -v '\.'); do \
	  mkdir -p $(SAN_DIR)/fuzz/found/$$t; \
	  echo "fuzzing $$t for $(FUZZ_SECONDS) s"; \
	  $(SAN_ENV) $(SAN_DIR)/fuzz/$$t -max_total_time=$(FUZZ_SECONDS) -timeout=10 \
	    -artifact_prefix=$(SAN_DIR)/fuzz/found/ \
	    -print_final_stats=1 $(SAN_DIR)/fuzz/found/$$t fuzz/corpus/$$t || exit 1; \
	done

# As a service: the binary, a hardened systemd unit and /etc/consent-relay/consent-relay.env
# (PREFIX=/usr/local; DESTDIR for staging). Then: systemctl daemon-reload && systemctl enable
# --now consent-relay.
PREFIX ?= /usr/local
install: build
	cmake --install $(BUILD_DIR) --prefix $(PREFIX)
	@echo "installed; start it with: systemctl daemon-reload && systemctl enable --now consent-relay"

# A Debian package of the same (CPack): $(BUILD_DIR)/consent-relay_<version>_<arch>.deb.
package: build
	cd $(BUILD_DIR) && cpack -G DEB

# The benchmark (not part of make test): prints a table and writes bench/results/latest.md.
bench: build
	bash bench/run.sh

format:
	@git ls-files '*.h' '*.cc' | xargs clang-format -i

clean:
	rm -rf $(BUILD_DIR)
