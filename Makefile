# Thin wrapper over Meson: the README's commands.
BUILD ?= build
CONFIG ?= examples/demo.yaml

.PHONY: all deps run test test-asan test-tsan fuzz bench clean

all: $(BUILD)/build.ninja
	ninja -C $(BUILD)

$(BUILD)/build.ninja:
	meson setup $(BUILD)

deps:
	bash scripts/install-deps.sh

run: deps all
	bash scripts/run-demo.sh $(CONFIG)

test: deps all
	bash scripts/test.sh $(BUILD)

test-asan: deps
	[ -f build-asan/build.ninja ] || CC=clang meson setup build-asan -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debug
	ninja -C build-asan
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		FUZZ_SECONDS=skip bash scripts/test.sh build-asan

test-tsan: deps
	[ -f build-tsan/build.ninja ] || CC=clang meson setup build-tsan -Db_sanitize=thread -Db_lundef=false -Dbuildtype=debug
	ninja -C build-tsan
	TSAN_OPTIONS=halt_on_error=1 FUZZ_SECONDS=skip bash scripts/test.sh build-tsan

fuzz: deps
	bash scripts/fuzz.sh $(FUZZ_SECONDS)

bench: deps all
	bash bench/run.sh

clean:
	rm -rf $(BUILD) build-asan build-tsan
