# rvs — the Rust Virtual Server.  `make test` runs every test; benches and fuzzing stay out of CI.
CARGO ?= cargo
FUZZ_SECONDS ?= 600

.PHONY: test build bench-engine fuzz-wire fuzz-engine fuzz-replay fmt

build:
	$(CARGO) build --workspace

# Every test: unit, property, fixture tables, behaviour, and the replay of the committed
# fuzz corpora through the fuzz targets' bodies (plain cargo test, no nightly needed).
test:
	$(CARGO) test --workspace

fuzz-replay:
	$(CARGO) test -p rvs-engine --test fuzz_replay
	$(CARGO) test -p rvs-wire --test no_panic

bench-engine:
	$(CARGO) bench -p rvs-engine --bench engine

fuzz-wire:
	cd fuzz && $(CARGO) +nightly fuzz run wire -- -max_total_time=$(FUZZ_SECONDS)

fuzz-engine:
	cd fuzz && $(CARGO) +nightly fuzz run engine -- -max_total_time=$(FUZZ_SECONDS)

fmt:
	$(CARGO) fmt --all
