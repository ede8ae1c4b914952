# certbound — one binary, an embedded default.
GO      ?= go
BIN     := bin/certbound
DATA    ?= ./certbound-data
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)

.PHONY: build run test lint bench fuzz demo clean

build: ## build bin/certbound (static, no cgo)
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/certbound

run: build ## serve on 127.0.0.1:8443 with a local data dir (created on first start)
	./$(BIN) serve --data-dir $(DATA)

README_TOOLS := bash curl openssl jq

test: ## all tests, with the race detector; README.md's commands too (test/readme, see readme-check)
	@for t in $(README_TOOLS); do command -v $$t >/dev/null || \
		echo "*** $$t is missing: test/readme SKIPS, README.md's commands are NOT checked (needs $(README_TOOLS)) ***" >&2; done
	@pg="$${CERTBOUND_TEST_POSTGRES:-postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable}"; \
		if ! command -v pg_isready >/dev/null || ! pg_isready -q -d "$$pg" 2>/dev/null; then \
		echo "*** PostgreSQL at $${CERTBOUND_TEST_POSTGRES:-127.0.0.1:5432} is not reachable (or pg_isready is missing): the PostgreSQL suite (storage/postgres, the server on PostgreSQL, test/replicas) SKIPS; set CERTBOUND_TEST_POSTGRES=postgres://… ***" >&2; fi
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout 15m ./...

.PHONY: readme-check
readme-check: ## run README.md's walkthrough and seed-guide commands as written against a fresh server (part of `make test`; SECTION=seed runs one)
	$(GO) test -count=1 -timeout 5m -run '^TestReadme$$$(if $(SECTION),/^$(SECTION)$$)' -v ./test/readme/

lint: ## gofmt + go vet
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

clean:
	rm -rf bin

demo: build ## the seed's scenario end to end: certbound + two example services, a 201 and refused replays
	$(GO) build -o bin/ ./cmd/examples/taskservice ./cmd/examples/calendarservice ./cmd/examples/demo
	./bin/demo --bin bin

.PHONY: seed-js
seed-js: ## run the seed guide's own JavaScript (test/seed) against a fresh certbound; needs node and npm
	cd test/seed && npm ci
	$(GO) test -count=1 -run 'TestSeedJavaScript$$' -v ./cmd/examples/internal/e2e/

.PHONY: bench-compare
BENCH_PG_CHECK = @pg="$${CERTBOUND_BENCH_POSTGRES:-postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable}"; \
	if ! command -v pg_isready >/dev/null || ! pg_isready -q -d "$$pg" 2>/dev/null; then \
	echo "*** PostgreSQL at $${CERTBOUND_BENCH_POSTGRES:-127.0.0.1:5432} is not reachable (or pg_isready is missing): the PostgreSQL loads (two replicas$(1)) are SKIPPED; set CERTBOUND_BENCH_POSTGRES=postgres://… ***" >&2; fi

bench: build ## the benchmark suite: floors, enrollment, renewal, tokens, verification, 100k-client scale, two replicas on PostgreSQL (~9 min; BENCH_SHORT=1 for ~2 min)
	$(call BENCH_PG_CHECK,)
	$(GO) build -o bin/bench ./cmd/bench
	./bin/bench -certbound $(BIN) $(BENCHFLAGS)

STEPCA_VERSION ?= v0.30.2
bench-compare: build ## enrollment and renewal side by side with step-ca, and on PostgreSQL with step-ca on the same PostgreSQL (go install into a temporary GOBIN, removed afterwards)
	$(call BENCH_PG_CHECK, and step-ca on PostgreSQL)
	$(GO) build -o bin/bench ./cmd/bench
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	echo "installing step-ca $(STEPCA_VERSION) into $$tmp" && \
	CGO_ENABLED=0 GOBIN="$$tmp" $(GO) install github.com/smallstep/certificates/cmd/step-ca@$(STEPCA_VERSION) && \
	./bin/bench -certbound $(BIN) -steps floor,enroll,renew,pg -stepca "$$tmp/step-ca" $(BENCHFLAGS)

FUZZTIME ?= 30s

fuzz: ## run every fuzz target (func Fuzz*) for FUZZTIME each (default 30s), one after another; seed corpora already run in `make test`
	@set -e; for dir in $$(grep -rl --include='*_test.go' '^func Fuzz' . | xargs -n1 dirname | sort -u); do \
		for target in $$($(GO) test -list '^Fuzz' $$dir | grep '^Fuzz'); do \
			echo "== $$dir $$target ($(FUZZTIME))"; \
			$(GO) test -run '^$$' -fuzz "^$$target\$$" -fuzztime $(FUZZTIME) $$dir; \
		done; \
	done
