# invoice-hub: the two commands a person needs are `make run` and `make test`.
SHELL := /bin/bash
CARGO ?= cargo
export CARGO_TERM_COLOR ?= never

.PHONY: all deps build test lint fmt bench bench-components run chaos powercut clean help

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | column -t -s $$'\t'

deps: ## install the Debian packages the build and tests need (libxml2, RabbitMQ)
	@bash scripts/install-deps.sh

build: deps ## build the invoice-hub binary
	$(CARGO) build --release --bin invoice-hub

test: deps ## run every test, including the ones against a real broker and real TLS, the lazy filesystem's and the WSDL's
	bash scripts/lazyfs-test.sh
	bash scripts/check-wsdl.sh
	$(CARGO) build --all-targets
	$(CARGO) test --all-targets --no-fail-fast

lint: deps ## formatting and clippy, as CI would want them
	$(CARGO) fmt --check
	$(CARGO) clippy --all-targets -- -D warnings

fmt:
	$(CARGO) fmt

bench: deps ## the exchange end to end beside a raw-broker baseline, its floors and issue 21's targets (BENCH_GROWTH=short: no 100 000 point): target/bench/
	$(CARGO) bench --bench exchange

bench-components: deps ## criterion benchmarks of the parts (figures as ratios to a baseline of the same run)
	$(CARGO) bench --bench validate --bench policy --bench broker --bench store --bench audit

.PHONY: fuzz
fuzz: ## cargo-fuzz targets (nightly), FUZZ_SECONDS each (default 600); crashes go to fuzz/regressions/
	@bash scripts/fuzz.sh

.PHONY: cluster-test
cluster-test: build ## 20 000 bases through a 3-node RabbitMQ cluster and 2 hubs, a node and a hub stopped mid-stream; 1 vs 2 hub throughput
	@bash scripts/cluster-test.sh

run: build ## a month of generated bases through a real broker, the hub, the SOAP gateway and a store per region, then a summary (run/demo/)
	@bash scripts/run.sh

.PHONY: demo demo-stop
demo: build ## everything of `make run` left running, with a trickle of bases; URLs, ports and certificates in run/demo/setup.env
	@IH_DEMO=1 bash scripts/run.sh

demo-stop: ## stop what `make demo` started; the logs stay in run/demo/ for the auditor
	@bash scripts/demo-stop.sh

clean:
	$(CARGO) clean
	rm -rf run/

powercut: deps ## POWERCUT_CUTS (20) power cuts under load, the log and stores on tools/lazyfs; checks nothing acknowledged was lost (POWERCUT_SEED, POWERCUT_COUNT)
	@LAZYFS_INSTALL_ONLY=1 bash scripts/lazyfs-test.sh
	$(CARGO) build --release --bin invoice-hub --example powercut
	$(CARGO) run --release --example powercut

chaos: deps ## 20 000 bases under hub SIGKILLs, a broker restart, a store outage and a publisher kill; checks nothing was lost, duplicated or misdelivered (CHAOS_SEED, CHAOS_COUNT)
	$(CARGO) build --release --bin invoice-hub --example chaos
	$(CARGO) run --release --example chaos
