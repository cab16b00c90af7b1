# The commands the README shows. `make serve` and `make test` do all set-up themselves.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install serve test lint schema bench bench-usage clean

install: $(STAMP)

$(STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $(STAMP)

serve: install
	$(BIN)/customergraph migrate
	@key=$$($(BIN)/customergraph seed-demo | tail -n 1) && \
	  headers="{\"Authorization\": \"Bearer $$key\"}" && \
	  query=$$($(BIN)/python -c 'import sys, urllib.parse as u; print(u.quote(sys.argv[1]))' "$$headers") && \
	  printf '\nDemo tenant API key:  %s\n' "$$key" && \
	  printf 'GraphiQL:             http://$(HOST):$(PORT)/graphql?headers=%s\n' "$$query" && \
	  printf 'Headers to paste:     %s\n\n' "$$headers"
	$(BIN)/customergraph serve --host $(HOST) --port $(PORT)

lint: install
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy .

test: lint
	$(BIN)/pytest

schema: install
	$(BIN)/customergraph export-schema > schema/schema.graphql

bench: install
	$(BIN)/python -m bench

bench-usage: install
	$(BIN)/python -m bench.usage

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache .hypothesis
