# adwatch: make help lists the targets.
GO      ?= go
BIN     := bin/adwatch
DATA    ?= ./data
SIMADDR ?= 127.0.0.1:8089
ADS     ?= 100000
E2E     ?= --e2e
NATIONAL ?= 0

.PHONY: help build demo test test-short bench bench-go vet staticcheck tools clean

GOBIN := $(or $(shell $(GO) env GOBIN),$(shell $(GO) env GOPATH)/bin)
export PATH := $(PATH):$(GOBIN)

STATICCHECK_VERSION := 0.8.2
# promtool of Prometheus 3.16 (its Go module's version), the release
# deploy/compose runs; of its service discoveries only those
# deploy/prometheus uses, which spares building every cloud's SDK.
PROMTOOL_VERSION := 0.316.0
PROMTOOL_TAGS    := remove_all_sd,enable_dns_sd,enable_kubernetes_sd
STATICCHECK := $(GOBIN)/staticcheck

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

build: ## Build bin/adwatch
	$(GO) build -o $(BIN) ./cmd/adwatch

demo: build ## Start the simulated site, crawl it, run every stage, add a demo investigator (password printed), then serve http://127.0.0.1:8080
	@rm -rf $(DATA)
	@$(BIN) sim --addr $(SIMADDR) --truth $(DATA)/truth.jsonl & echo $$! > /tmp/adwatch-sim.pid; \
	 trap 'kill $$(cat /tmp/adwatch-sim.pid) 2>/dev/null' EXIT INT TERM; \
	 sleep 1; \
	 $(BIN) --data $(DATA) --no-sync run --once && \
	 $(BIN) --data $(DATA) compare --city Oakland --date 2020-10-02 --vs 2019-10-04 && \
	 $(BIN) --data $(DATA) eval linking --truth $(DATA)/truth.jsonl && \
	 $(BIN) --data $(DATA) --no-sync user add demo --role investigator --generate-password && \
	 echo "monitoring; web UI on http://127.0.0.1:8080: log in as demo with the password above (Ctrl-C to stop)" && \
	 $(BIN) --data $(DATA) --no-sync run

tools: staticcheck ## Install what vet and the tests use: staticcheck, nats-server (cluster test), promtool and the manifests' validator (deploy tests), Debian's chromium (browser test)
	@command -v nats-server >/dev/null || $(GO) install github.com/nats-io/nats-server/v2@v2.15.2
	@command -v promtool >/dev/null || $(GO) install -tags $(PROMTOOL_TAGS) github.com/prometheus/prometheus/cmd/promtool@v$(PROMTOOL_VERSION)
	cd deploy/k8s/validate && $(GO) build -o $(GOBIN)/adwatch-k8s-validate .
	@command -v chromium >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) \
	  || echo "could not install chromium: the browser test will be skipped outside CI"

# Fuzz budgets are execution counts, not durations: with go1.26 a duration
# (-fuzztime 20s) can end in a spurious "context deadline exceeded" from the
# fuzz coordinator itself (golang/go#75804, fixed in go1.27).
test: vet tools ## Run every test with the race detector (what CI runs)
	$(GO) test -race -shuffle=on -count=1 -timeout 30m ./...
	@# The photo hashes' bits must not depend on the compiler fusing
	@# multiply-adds: the hashing tests again with GOAMD64=v3 (which fuses),
	@# on a CPU that runs it, and compiled for arm64 (which always fuses).
	@if grep -qw fma /proc/cpuinfo 2>/dev/null && grep -qw avx2 /proc/cpuinfo && grep -qw bmi2 /proc/cpuinfo && grep -qw movbe /proc/cpuinfo; then \
	  echo 'GOAMD64=v3 $(GO) test -count=1 ./extractor/imagehash/...'; GOAMD64=v3 $(GO) test -count=1 ./extractor/imagehash/...; \
	else echo 'no GOAMD64=v3 on this CPU: the hashing tests with fused multiply-adds are skipped'; fi
	GOARCH=arm64 $(GO) vet ./extractor/imagehash/...
	$(GO) test -run '^$$' -fuzz FuzzFind -fuzztime 150000x ./extractor/phone
	$(GO) test -run '^$$' -fuzz FuzzNational -fuzztime 30000x ./extractor/phone
	$(GO) test -run '^$$' -fuzz FuzzURL -fuzztime 50000x ./extractor/phone
	$(GO) test -run '^$$' -fuzz FuzzFind -fuzztime 30000x ./extractor/age
	$(GO) test -run '^$$' -fuzz FuzzMatch -fuzztime 300000x ./extractor/indicator
	$(GO) test -run '^$$' -fuzz FuzzFind -fuzztime 60000x ./extractor/handle
	$(GO) test -run '^$$' -fuzz FuzzExtract -fuzztime 100000x ./extractor
	$(GO) test -run '^$$' -fuzz FuzzHash -fuzztime 200000x ./extractor/imagehash
	$(GO) test -run '^$$' -fuzz FuzzDecode -fuzztime 200000x ./extractor/imagehash/internal/jpeg
	$(GO) test -run '^$$' -fuzz FuzzContainsTerm -fuzztime 50000x ./alerts
	$(GO) test -run '^$$' -fuzz FuzzSanitize -fuzztime 100000x ./web
	$(GO) test -run '^$$' -fuzz FuzzReadRecord -fuzztime 50000x ./evidence
	$(GO) test -run '^$$' -fuzz FuzzSimHash -fuzztime 100000x ./indexer
	$(GO) test -run '^$$' -fuzz FuzzLinkerState -fuzztime 200000x ./indexer

test-short: ## Unit tests only, no end-to-end crawl
	$(GO) test -short ./...

bench: ## One table of the performance figures at ADS ads (default 100000, 4 to 12 minutes; make bench ADS=1000000; E2E= leaves out run --once against the plain libraries; NATIONAL=20000 adds the national day on that many ads, a few minutes more); docs/performance.md
	$(GO) run ./cmd/adwatch bench --ads $(ADS) $(E2E) --national-day $(NATIONAL)

bench-go: ## The packages' go test benchmarks (the 1M-ad linking case alone takes about 15 minutes)
	$(GO) test -run '^$$' -bench . -benchmem -timeout 60m ./extractor/... ./indexer/... ./alerts/...

vet: staticcheck ## go vet, gofmt, go mod tidy -diff and staticcheck
	$(GO) vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (gofmt -l $$(git ls-files '*.go'); echo "gofmt needed"; exit 1)
	$(GO) mod tidy -diff
	$(STATICCHECK) ./...

staticcheck: ## Install staticcheck (pinned) if it is missing or another version
	@$(STATICCHECK) -version 2>/dev/null | grep -qF '($(STATICCHECK_VERSION))' || $(GO) install honnef.co/go/tools/cmd/staticcheck@v$(STATICCHECK_VERSION)

clean: ## Remove the binary and the demo data
	rm -rf bin $(DATA)
