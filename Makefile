# Lambdascope — the targets below are the way in. `make help` lists them.
SHELL := /bin/bash
GO ?= go
BIN := bin
PKGS := ./...
GOTEST_FLAGS ?= -count=1 -timeout 25m
LDFLAGS := -s -w
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
EXT_LDFLAGS := $(LDFLAGS) -X main.version=$(VERSION)
EXT_TAGS := grpcnotrace
LAYER_ARCHS := x86_64 arm64
# make fuzz: each target's time; the runs of the fuzz function it may spend
# minimizing an input that reaches new code or fails (go test's default, a
# minute, of a minimizer quadratic in the input's length, during which it
# counts no runs, left FuzzAppendWire at 0 runs/s; a time limit restarts
# the worker each time); its workers (one, to leave the other cores free).
FUZZTIME ?= 60s
FUZZMINIMIZETIME ?= 1000x
FUZZPARALLEL ?= 1

.PHONY: help deps test-tools build test test-go test-plugin demo proto proto-check dashboards lint fuzz bench bench-extension layer plugin clean

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

deps: ## install Debian packages the build, tests and demo need (ClickHouse, protoc, zip)
	@deploy/scripts/install-deps.sh

test-tools: ## install the pinned test tools from the Go module proxy into .tools/bin (AWS's Lambda Runtime Interface Emulator, telemetrygen)
	@deploy/scripts/install-test-tools.sh

build: ## build every binary into bin/
	$(GO) build -o $(BIN)/ ./collector/cmd/lambdascope-collector ./query/cmd/lambdascope ./emulator/cmd/lambda-emulator
	CGO_ENABLED=0 $(GO) build -trimpath -tags $(EXT_TAGS) -ldflags '$(EXT_LDFLAGS)' -o $(BIN)/layer/extensions/lambdascope ./extension/cmd/lambdascope-launcher
	CGO_ENABLED=0 $(GO) build -trimpath -tags $(EXT_TAGS) -ldflags '$(EXT_LDFLAGS)' -o $(BIN)/layer/lambdascope/lambdascope-extension ./extension/cmd/lambdascope-extension

test: deps test-plugin test-go ## run all tests: Go (against throwaway ClickHouse servers) and the plugin frontend

test-go: deps test-tools ## run the Go tests
	$(GO) test $(GOTEST_FLAGS) $(PKGS)

test-plugin: ## type-check, unit-test and build the Grafana plugin frontend
	cd grafana-plugin && npm ci --no-audit --no-fund --loglevel=error && npm run typecheck && npm test && npm run build

demo: deps ## run the whole system locally: ClickHouse, collector, emulated functions with the extension, then a trace and the invocations
	$(GO) run ./deploy/local/cmd/demo

proto: ## regenerate the Ingest API's Go code from proto/
	@deploy/scripts/install-deps.sh
	proto/generate.sh

proto-check: ## fail when the committed generated code is stale
	$(GO) test -count=1 -run TestGeneratedCodeIsCurrent ./proto

dashboards: ## regenerate the Grafana dashboards' JSON from deploy/grafana/dashboards/build
	$(GO) run ./deploy/grafana/dashboards/gen -dir deploy/grafana/dashboards

lint: ## gofmt, go vet, staticcheck, and bash -n on every shell script
	@scripts=$$(git ls-files -z | xargs -0 awk 'FNR == 1 && /^#!.*[\/ ](ba)?sh( |$$)/ { print FILENAME } { nextfile }'); \
	  test -n "$$scripts" || { echo "no shell scripts found: the listing is wrong"; exit 1; }; \
	  for f in $$scripts; do bash -n "$$f" || { echo "bash -n $$f failed"; exit 1; }; done
	@out=$$(gofmt -l $$(git ls-files '*.go' | grep -v '\.pb\.go$$')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)
	$(GO) tool staticcheck $(PKGS)

fuzz: deps ## run every fuzz target (parsers of OTLP, Telemetry API, EMF, spool, ...) in turn for FUZZTIME each (default 60s); fails at the first finding
	@set -e; n=0; \
	for f in $$(git ls-files '*_test.go' | xargs grep -l '^func Fuzz'); do \
	  for name in $$(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' $$f); do \
	    pkg=./$$(dirname $$f)/; \
	    echo "== $$pkg $$name, load $$(cut -d' ' -f1-3 /proc/loadavg)"; \
	    if ! $(GO) test -run '^$$' -fuzz "^$$name$$" -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZETIME) -parallel $(FUZZPARALLEL) $$pkg; then \
	      echo "FUZZ FINDING in $$pkg $$name: fix the parser and commit the input go test wrote to $${pkg}testdata/fuzz/$$name/ as a seed" >&2; \
	      exit 1; \
	    fi; \
	    n=$$((n+1)); \
	  done; \
	done; \
	test $$n -gt 0 || { echo "no fuzz targets found: the listing is wrong" >&2; exit 1; }; \
	echo "$$n fuzz targets, $(FUZZTIME) each: no finding"

bench: deps ## run the Go benchmarks
	$(GO) test -run '^$$' -bench . -benchmem $(PKGS)

bench-extension: ## extension figures: the real binary under the emulator, baselines side by side
	bench/extension/run.sh

plugin: ## build the Grafana plugin (frontend + linux/amd64 and linux/arm64 backends) into grafana-plugin/dist
	cd grafana-plugin && npm ci --no-audit --no-fund --loglevel=error && npm run build
	CGO_ENABLED=0 GOOS=linux GOARCH=amd64 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o grafana-plugin/dist/gpx_lambdascope_linux_amd64 ./grafana-plugin/pkg
	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o grafana-plugin/dist/gpx_lambdascope_linux_arm64 ./grafana-plugin/pkg

layer: ## build the extension layer zips (dist/lambdascope-extension-<arch>.zip)
	@mkdir -p dist
	@for arch in $(LAYER_ARCHS); do \
	  goarch=$$( [ $$arch = x86_64 ] && echo amd64 || echo arm64 ); \
	  rm -rf dist/layer-$$arch && mkdir -p dist/layer-$$arch/extensions dist/layer-$$arch/lambdascope; \
	  CGO_ENABLED=0 GOOS=linux GOARCH=$$goarch $(GO) build -trimpath -tags $(EXT_TAGS) -ldflags '$(EXT_LDFLAGS)' -o dist/layer-$$arch/extensions/lambdascope ./extension/cmd/lambdascope-launcher || exit 1; \
	  CGO_ENABLED=0 GOOS=linux GOARCH=$$goarch $(GO) build -trimpath -tags $(EXT_TAGS) -ldflags '$(EXT_LDFLAGS)' -o dist/layer-$$arch/lambdascope/lambdascope-extension ./extension/cmd/lambdascope-extension || exit 1; \
	  install -m 0755 extension/lambdascope-wrapper dist/layer-$$arch/lambdascope-wrapper || exit 1; \
	  (cd dist/layer-$$arch && rm -f ../lambdascope-extension-$$arch.zip && zip -qr ../lambdascope-extension-$$arch.zip extensions lambdascope lambdascope-wrapper) || exit 1; \
	  echo "dist/lambdascope-extension-$$arch.zip $$(stat -c %s dist/lambdascope-extension-$$arch.zip) bytes"; \
	done

clean: ## remove build output
	rm -rf $(BIN) dist grafana-plugin/dist
