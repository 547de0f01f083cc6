# whats91-ops: `make run` and `make test` are all a newcomer needs.
# Every step installs what it is missing and skips itself when satisfied.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

NAME  := whats91-ops
CRATE := whats91_ops
WASM  := wasm32-unknown-unknown

# A one-off build (CI) gains nothing from incremental state, which runs to
# many gigabytes for this crate.
ifdef CI
export CARGO_INCREMENTAL := 0
endif

# Leptos reads the bundle name at compile time (also set in .cargo/config.toml).
export LEPTOS_OUTPUT_NAME := $(NAME)
export PATH := $(HOME)/.cargo/bin:$(CURDIR)/end2end/node_modules/.bin:$(PATH)

# The wasm-bindgen CLI must be exactly the version the crate links against.
WASM_BINDGEN_VERSION := $(shell sed -n '/^name = "wasm-bindgen"$$/{n;s/^version = "\(.*\)"$$/\1/p;}' Cargo.lock)
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

# The browser build has its own target folder so the two builds never
# invalidate each other.
WASM_DIR     := target/wasm
RELEASE_WASM := $(WASM_DIR)/$(WASM)/wasm-release/$(CRATE).wasm
DEBUG_WASM   := $(WASM_DIR)/$(WASM)/debug/$(CRATE).wasm
SITE         := target/site
TEST_SITE    := target/site-debug
CARGO_WASM   := cargo build --lib --target $(WASM) --no-default-features --features hydrate --target-dir $(WASM_DIR)

.PHONY: help run demo build bench test lint unit e2e fmt clean \
        rust-tools node-tools chromium server-release server-debug FORCE

help:
	@echo "make run    build in release mode and start the server"
	@echo "make test   formatting, clippy, cargo tests and browser tests"
	@echo "make build  release binary and site assets only"
	@echo "make demo   the dashboard fed by a simulated Whats91 (fresh database)"
	@echo "make bench  receiver throughput against a bare handler"

## The two commands ---------------------------------------------------------

run: build
	target/release/$(NAME) serve

test: lint unit e2e

# The product working without a Whats91 account: `whats91-ops simulate`
# stands in for Whats91 on :3900, the server on :3000 uses it as its API,
# and a destination is created through that API with the same code as the
# Destinations page. The database is fresh each time (the simulator forgets
# its webhooks when it stops); Ctrl-C stops both.
DEMO_API_TOKEN := demo-whats91-token
demo: build
	@dir=$$(mktemp -d); \
	export WHATS91_OPS_DATABASE=$$dir/demo.db \
	       WHATS91_OPS_WHATS91_API_URL=http://127.0.0.1:3900/api/v2 \
	       WHATS91_OPS_WHATS91_API_TOKEN=$(DEMO_API_TOKEN) \
	       WHATS91_OPS_SIMULATE_TOKEN=$(DEMO_API_TOKEN); \
	target/release/$(NAME) simulate --addr 127.0.0.1:3900 --rate 3 & sim=$$!; \
	target/release/$(NAME) serve & app=$$!; \
	trap 'kill $$sim $$app 2>/dev/null; wait; rm -rf "$$dir"' EXIT INT TERM; \
	until python3 -c 'import urllib.request as u; u.urlopen("http://127.0.0.1:3000/healthz", timeout=1)' 2>/dev/null; \
	  do sleep 0.3; done; \
	target/release/$(NAME) destination create --slug demo --name "Demo (simulated Whats91)"; \
	echo; echo "Dashboard: http://127.0.0.1:3000 (user admin, password printed above). Ctrl-C stops the demo."; \
	wait

## Building -----------------------------------------------------------------

build: server-release $(SITE)/pkg/$(NAME).wasm site-assets-release

server-release:
	cargo build --release --no-default-features --features ssr --bin $(NAME)

server-debug:
	cargo build --no-default-features --features ssr --bin $(NAME)

# Cargo decides whether anything changed; it leaves a fresh .wasm untouched,
# so the (slow) bindgen and optimiser steps below run only after a change.
$(RELEASE_WASM): FORCE | rust-tools
	$(CARGO_WASM) --profile wasm-release

$(DEBUG_WASM): FORCE | rust-tools
	$(CARGO_WASM)

$(SITE)/pkg/$(NAME).wasm: $(RELEASE_WASM) | rust-tools node-tools
	$(call bindgen,$<,$(SITE))
	wasm-opt -Oz $@ -o $@.opt && mv $@.opt $@

$(TEST_SITE)/pkg/$(NAME).wasm: $(DEBUG_WASM) | rust-tools
	$(call bindgen,$<,$(TEST_SITE))

# $(1): the compiled .wasm, $(2): the site folder. Leptos asks for
# /pkg/<name>.js and /pkg/<name>.wasm.
define bindgen
	wasm-bindgen --target web --no-typescript --out-name $(NAME) --out-dir $(2)/pkg $(1)
	mv $(2)/pkg/$(NAME)_bg.wasm $(2)/pkg/$(NAME).wasm
endef

site-assets-release site-assets-debug: site-assets-%:
	$(eval dir := $(if $(filter release,$*),$(SITE),$(TEST_SITE)))
	mkdir -p $(dir)/pkg
	cp style/main.css $(dir)/pkg/$(NAME).css
	cp -R public/. $(dir)/

## Tools --------------------------------------------------------------------

rust-tools:
	@rustup target list --installed | grep -qx $(WASM) || rustup target add $(WASM)
	@rustup component list --installed | grep -q '^clippy' || rustup component add clippy
	@rustup component list --installed | grep -q '^rustfmt' || rustup component add rustfmt
	@if [ "$$(wasm-bindgen --version 2>/dev/null | cut -d' ' -f2)" != "$(WASM_BINDGEN_VERSION)" ]; then \
	  echo "installing wasm-bindgen-cli $(WASM_BINDGEN_VERSION)"; \
	  cargo install wasm-bindgen-cli --version $(WASM_BINDGEN_VERSION); \
	fi

node-tools: end2end/node_modules/.package-lock.json

end2end/node_modules/.package-lock.json: end2end/package.json end2end/package-lock.json
	cd end2end && npm ci --no-audit --no-fund
	touch $@

chromium:
	@command -v chromium >/dev/null || { $(SUDO) apt-get update && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; }

## Checks -------------------------------------------------------------------

lint: rust-tools
	cargo fmt --all -- --check
	cargo clippy --all-targets --features ssr -- -D warnings
	cargo clippy --lib --target $(WASM) --no-default-features --features hydrate \
	  --target-dir $(WASM_DIR) -- -D warnings

unit:
	cargo test --features ssr

# Browser tests: a debug build on a free port and a fresh temporary
# database; Playwright starts the server and stops it whatever happens.
e2e: server-debug $(TEST_SITE)/pkg/$(NAME).wasm site-assets-debug node-tools chromium
	tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }; \
	export E2E_PORT=$$(free_port) E2E_SIMULATOR_PORT=$$(free_port); \
	export E2E_DATABASE=$$tmp/e2e.db; \
	cd end2end && playwright test $(E2E_ARGS)

# Receiver throughput against a bare axum handler, as a ratio (docs/BENCHMARKS.md).
bench:
	cargo bench --bench receiver -- --connections 64 --seconds 10

fmt:
	cargo fmt --all

clean:
	cargo clean
