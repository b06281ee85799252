# Banter's entry points. `make run` builds and starts the server, `make test`
# runs the whole suite; see README.md.
#
#   make run                         the server on http://localhost:3000
#   make run ARGS="--addr :3900"     with flags (bin/banter --help lists them)
.PHONY: run test bundle build deps bench

SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -c

# The version banter reports (banter version), from git.
VERSION ?= $(shell scripts/version.sh)
GOFLAGS_LD := -ldflags "-X main.version=$(VERSION)"
# Flags for `make run`.
ARGS ?=

run:
	@-scripts/bundle.sh
	@echo "make run: building bin/banter $(VERSION) (the first build compiles every dependency and takes a few minutes; later ones take seconds)"
	@go build -v $(GOFLAGS_LD) -o bin/banter ./cmd/banter 2>&1 | sed -u 's/^/  compiling /'
	@echo "make run: starting bin/banter $(ARGS)"
	@echo "make run: pass flags with ARGS, e.g. make run ARGS=\"--addr :3900\" (another address and port); all flags: bin/banter --help"
	@bin/banter $(ARGS)

test:
	scripts/test.sh

bundle:
	scripts/bundle.sh

build: bundle
	go build $(GOFLAGS_LD) -o bin/banter ./cmd/banter

deps:
	scripts/deps.sh

bench:
	scripts/bench.sh
