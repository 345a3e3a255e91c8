# Lambdascope — the targets below are the way in. `make help` lists them.
SHELL := /bin/bash
GO ?= go
BIN := bin
PKGS := ./...
GOTEST_FLAGS ?= -count=1 -timeout 25m
LDFLAGS := -s -w
LAYER_ARCHS := x86_64 arm64

.PHONY: help deps build test demo proto proto-check lint bench layer clean

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

deps: ## install Debian packages the build, tests and demo need (ClickHouse, protoc, zip)
	@deploy/scripts/install-deps.sh

build: ## build every binary into bin/
	$(GO) build -o $(BIN)/ ./collector/cmd/lambdascope-collector ./query/cmd/lambdascope ./emulator/cmd/lambda-emulator
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/extensions/lambdascope ./extension/cmd/lambdascope-extension

test: deps ## run all tests (starts its own throwaway ClickHouse servers)
	$(GO) test $(GOTEST_FLAGS) $(PKGS)

demo: deps ## run the whole system locally: ClickHouse, collector, emulated functions with the extension, then a trace and the invocations
	$(GO) run ./deploy/local/cmd/demo

proto: ## regenerate the Ingest API's Go code from proto/
	@deploy/scripts/install-deps.sh
	proto/generate.sh

proto-check: ## fail when the committed generated code is stale
	$(GO) test -count=1 -run TestGeneratedCodeIsCurrent ./proto

lint: ## gofmt, go vet and staticcheck
	@out=$$(gofmt -l $$(git ls-files '*.go' | grep -v '\.pb\.go$$')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)
	$(GO) tool staticcheck $(PKGS)

bench: deps ## run the Go benchmarks
	$(GO) test -run '^$$' -bench . -benchmem $(PKGS)

layer: ## build the extension layer zips (dist/lambdascope-extension-<arch>.zip)
	@mkdir -p dist
	@for arch in $(LAYER_ARCHS); do \
	  goarch=$$( [ $$arch = x86_64 ] && echo amd64 || echo arm64 ); \
	  rm -rf dist/layer-$$arch && mkdir -p dist/layer-$$arch/extensions; \
	  CGO_ENABLED=0 GOOS=linux GOARCH=$$goarch $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o dist/layer-$$arch/extensions/lambdascope ./extension/cmd/lambdascope-extension || exit 1; \
	  (cd dist/layer-$$arch && rm -f ../lambdascope-extension-$$arch.zip && zip -qr ../lambdascope-extension-$$arch.zip extensions) || exit 1; \
	  echo "dist/lambdascope-extension-$$arch.zip $$(stat -c %s dist/lambdascope-extension-$$arch.zip) bytes"; \
	done

clean: ## remove build output
	rm -rf $(BIN) dist
