# dccgate: common tasks. `make help` lists them.
BUF := go tool -modfile=tools/go.mod buf

# The build's name: `dccgate version` prints them. Override on the command
# line to rebuild a release: make build VERSION=v0.3.0 COMMIT=<sha>.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)
COMMIT ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
# Reproducible: no paths of this machine (-trimpath), no build ID, no VCS
# stamp beyond COMMIT, no cgo (the SQLite and PostgreSQL drivers are pure
# Go). The same commit built with the same Go gives the same bytes.
LDFLAGS := -s -w -buildid= -X main.version=$(VERSION) -X main.commit=$(COMMIT)
GOFLAGS_BUILD := -trimpath -buildvcs=false -ldflags '$(LDFLAGS)'

.PHONY: help all generate checkgenerate test shorttest race vet lint build reproducible install bench bench-scale bench-pg bench-compare fuzz screenshots

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

all: generate test ## Generate, then test

generate: ## Regenerate Go types, the .proto, docs and the Connect code from the spec
	go run ./gen/cmd/dccgen
	$(BUF) generate
	$(BUF) format -w

checkgenerate: generate ## Fail if regenerating changes anything
	git diff --exit-code
	test -z "$$(git status --porcelain)"

build: ## Build bin/dccgate reproducibly, stamped with VERSION and COMMIT
	CGO_ENABLED=0 go build $(GOFLAGS_BUILD) -o bin/dccgate ./cmd/dccgate
	@sha256sum bin/dccgate

reproducible: ## Build twice (the second with an empty build cache) and compare the bytes
	CGO_ENABLED=0 go build $(GOFLAGS_BUILD) -o .tmp/repro/a/dccgate ./cmd/dccgate
	cache=$$(mktemp -d) && CGO_ENABLED=0 GOCACHE=$$cache go build $(GOFLAGS_BUILD) -o .tmp/repro/b/dccgate ./cmd/dccgate; \
	  status=$$?; rm -rf $$cache; exit $$status
	cmp .tmp/repro/a/dccgate .tmp/repro/b/dccgate
	@sha256sum .tmp/repro/a/dccgate .tmp/repro/b/dccgate

install: ## go install dccgate (into GOBIN, or GOPATH/bin), stamped with VERSION and COMMIT
	CGO_ENABLED=0 go install $(GOFLAGS_BUILD) ./cmd/dccgate

test: ## Run every test (the README's test command)
	go test -timeout 30m ./...

shorttest: ## Tests without the slow ones, with the race detector
	go test -race -short ./...

vet: ## go vet and buf lint
	go vet ./...
	$(BUF) lint

lint: vet

bench: ## Engine benchmarks with their ratio to plain Go, the protocol floor (the API with handlers doing nothing), then load through the public API in process (closed loop, open loop at 1000/s and 5000/s, the highest rate with p99 <= 25 ms, critical only), then the gateway alone in a process of its own
	scripts/bench.sh

bench-scale: ## Seed 1,000,000 systems, serve them from another process, load them; seeding time and the gateway's memory
	go build -o bin/dccgate ./cmd/dccgate
	scripts/bench-scale.sh

bench-pg: ## Two gateways on one PostgreSQL schema (DCCGATE_BENCH_POSTGRES, else DCCGATE_TEST_POSTGRES, else the local one), each loaded: requests/s and CPU a request, gateways and PostgreSQL
	scripts/bench-pg.sh

bench-compare: ## Go benchmarks of revision BASE against the working tree, in turn COUNT times (6), compared with benchstat (PKGS, BENCH, BENCHTIME, SKIP narrow it)
	scripts/bench-compare.sh

fuzz: ## A short fuzz run of each fuzz target (FUZZTIME=10s)
	scripts/fuzz.sh $(or $(FUZZTIME),10s)

screenshots: ## Screenshot the Self-Service Interface's request history in headless Chromium (docs/screenshots)
	DCCGATE_SCREENSHOTS=$(CURDIR)/docs/screenshots go test -count=1 -run '^TestBrowser$$' ./runtime/ssi/
	@ls -l docs/screenshots/ssi-requests.png
