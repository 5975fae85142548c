# Two entry points (see README): `make demo` and `make test`. Both set up .venv first.
# `make test` also builds the llamacpp extra once (cached): its real-engine tests run in CI.
VENV ?= .venv
BIN := $(VENV)/bin
SAMPLE := examples/sample-repo

.PHONY: setup setup-llamacpp demo test lint unit e2e bench

setup:
	@scripts/setup.sh

setup-llamacpp: setup
	@scripts/setup-llamacpp.sh

demo: setup
	$(BIN)/codemm ask "Where is parse_due_date defined and what does it return?" --repo $(SAMPLE) --verbose

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: setup-llamacpp lint
	$(BIN)/pytest -q

unit: setup
	$(BIN)/pytest -q -m "not e2e and not llamacpp"

bench: setup
	$(BIN)/codemm bench generate
