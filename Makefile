# hexcri: the two commands of the README and what stands behind them.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
SOCKET ?= /tmp/hexcri-demo/hexcri.sock
BACKEND ?= memory

.PHONY: setup protos up test lint typecheck imports unit e2e integration clean

$(BIN)/hexcri: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

setup: $(BIN)/hexcri protos

protos: $(BIN)/hexcri
	@if [ -d /usr/share/gocode/src/github.com/containerd/containerd/api ]; then \
		$(BIN)/python -m adapters.containerd.protos; \
	else echo "containerd protos not installed: skipping stub generation (see docs/operations.md)"; fi

# Bring hexcri up and run one pod through its CRI socket, then shut it down.
up: setup
	@BACKEND=$(BACKEND) SOCKET=$(SOCKET) BIN=$(BIN) ./app/demo.sh

lint: setup
	$(BIN)/ruff check .

typecheck: setup
	$(BIN)/mypy domain ports app adapters

imports: setup
	$(BIN)/lint-imports

unit: setup
	$(BIN)/pytest -q tests/unit tests/contract -m "not containerd and not registry and not cni"

# The whole suite: lint, types, import contracts, unit, contract, integration and e2e tests.
test: lint typecheck imports
	$(BIN)/pytest -q -p no:cacheprovider tests

clean:
	rm -rf $(VENV) adapters/containerd/gen .pytest_cache .mypy_cache .ruff_cache
