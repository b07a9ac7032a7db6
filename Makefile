# invoice-hub: the two commands a person needs are `make run` and `make test`.
SHELL := /bin/bash
CARGO ?= cargo
export CARGO_TERM_COLOR ?= never

.PHONY: all deps build test lint fmt bench bench-components run clean help

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | column -t -s $$'\t'

deps: ## install the Debian packages the build and tests need (libxml2, RabbitMQ)
	@bash scripts/install-deps.sh

build: deps ## build the invoice-hub binary
	$(CARGO) build --release --bin invoice-hub

test: deps ## run every test, including the ones against a real broker and real TLS
	$(CARGO) build --all-targets
	$(CARGO) test --all-targets --no-fail-fast

lint: deps ## formatting and clippy, as CI would want them
	$(CARGO) fmt --check
	$(CARGO) clippy --all-targets -- -D warnings

fmt:
	$(CARGO) fmt

bench: deps ## the exchange end to end beside a raw-broker baseline (BENCH_GROWTH=full adds 100 000 bases): target/bench/
	$(CARGO) bench --bench exchange

bench-components: deps ## criterion benchmarks of the parts (figures as ratios to a baseline of the same run)
	$(CARGO) bench --bench validate --bench policy --bench broker --bench store --bench audit

run: build ## generate a month of invoice bases and validate them (see README: what `make run` does today)
	@bash scripts/run.sh

clean:
	$(CARGO) clean
	rm -rf run/
