# hexcri: the two commands of the README and what stands behind them.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
SOCKET ?= /tmp/hexcri-demo/hexcri.sock
PODS ?= 50

# Debian packages the real stack and the integration tests need.
DEBS := containerd runc containernetworking-plugins iptables docker-registry busybox-static \
	gcc libc6-dev golang-github-containerd-containerd-dev golang-github-gogo-protobuf-dev \
	golang-github-containerd-cgroups-dev

.PHONY: deps setup protos up up-memory bench test lint typecheck imports unit clean

# Install the Debian packages that are missing (needs root; apt-get update only when needed).
deps:
	@missing=$$(for p in $(DEBS); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
			--no-install-recommends $$missing; \
	fi

$(BIN)/hexcri: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

setup: deps $(BIN)/hexcri protos

protos: $(BIN)/hexcri
	@if [ -d /usr/share/gocode/src/github.com/containerd/containerd/api ]; then \
		$(BIN)/python -m adapters.containerd.protos; \
	else echo "containerd protos not installed: skipping stub generation (see docs/operations.md)"; fi

# The real stack (a private containerd, a local registry behind hosts.toml mirrors, CNI,
# hexcri on containerd), one pod run through hexcri's CRI socket, then everything torn down.
up: setup
	$(BIN)/python -m tests.support.stack demo

# The same pod on the memory backend (the CRI simulator).
up-memory: setup
	@BACKEND=memory SOCKET=$(SOCKET) BIN=$(BIN) ./app/demo.sh

# hexcri beside containerd's own CRI plugin on the same machine, same images and CNI.
bench: setup
	$(BIN)/python -m tests.support.stack bench --pods $(PODS)

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
