# dccgate: common tasks. `make help` lists them.
BUF := go tool -modfile=tools/go.mod buf

.PHONY: help all generate checkgenerate test shorttest race vet lint build bench fuzz

help: ## List the targets
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

all: generate test ## Generate, then test

generate: ## Regenerate Go types, the .proto, docs and the Connect code from the spec
	go run ./gen/cmd/dccgen
	$(BUF) generate
	$(BUF) format -w

checkgenerate: generate ## Fail if regenerating changes anything
	git diff --exit-code
	test -z "$$(git status --porcelain)"

build: ## Build the dccgate binary into bin/
	go build -o bin/dccgate ./cmd/dccgate

test: ## Run every test (the README's test command)
	go test ./...

shorttest: ## Tests without the slow ones, with the race detector
	go test -race -short ./...

vet: ## go vet and buf lint
	go vet ./...
	$(BUF) lint

lint: vet

bench: ## Engine benchmarks
	go test -run '^$$' -bench . -benchmem ./engine/

fuzz: ## A short fuzz run of each fuzz target
	go test -run '^$$' -fuzz FuzzDecide -fuzztime 20s ./engine/
