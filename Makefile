# Banter's entry points. `make run` starts the server, `make test` runs the
# whole suite; see README.md.
.PHONY: run test bundle build deps bench

run:
	-scripts/bundle.sh
	go run ./cmd/banter

test:
	scripts/test.sh

bundle:
	scripts/bundle.sh

build: bundle
	go build -o bin/banter ./cmd/banter

deps:
	scripts/deps.sh

bench:
	scripts/bench.sh
