# hexcri: the two commands of the README and what stands behind them.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
SOCKET ?= /tmp/hexcri-demo/hexcri.sock
PODS ?= 50
DENSITY ?= 110

# Debian packages the real stack and the integration tests need (systemd: systemd-analyze
# verify of the unit).
DEBS := containerd runc containernetworking-plugins iptables docker-registry busybox-static \
	gcc libc6-dev golang-github-containerd-containerd-dev golang-github-gogo-protobuf-dev \
	golang-github-containerd-cgroups-dev systemd

.PHONY: deps setup protos up up-memory bench test lint typecheck imports unit clean install

# `make install`: hexcri in its own venv under $(PREFIX)/lib/hexcri, `hexcri` on the PATH, the
# systemd unit, a default config (never overwritten) and containerd's config snippet.
# DESTDIR stages everything under another root (packaging); paths inside stay the final ones.
PREFIX ?= /usr/local
SYSCONFDIR ?= /etc
UNITDIR ?= $(SYSCONFDIR)/systemd/system
DESTDIR ?=
LIBDIR := $(PREFIX)/lib/hexcri
SHAREDIR := $(PREFIX)/share/hexcri

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
	$(BIN)/python -m tests.support.stack bench --pods $(PODS) --density-pods $(DENSITY)

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

install: protos
	$(PY) -m venv --clear $(DESTDIR)$(LIBDIR)
	$(DESTDIR)$(LIBDIR)/bin/pip install -q --no-cache-dir .
	@# the venv's scripts name their interpreter by its staged path: drop the DESTDIR part
	@if [ -n "$(DESTDIR)" ]; then \
		grep -lr --null "$(DESTDIR)" $(DESTDIR)$(LIBDIR)/bin | xargs -0 -r sed -i "s|$(DESTDIR)||g"; \
	fi
	install -d $(DESTDIR)$(PREFIX)/bin
	ln -sfn ../lib/hexcri/bin/hexcri $(DESTDIR)$(PREFIX)/bin/hexcri
	install -d $(DESTDIR)$(UNITDIR)
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' deploy/hexcri.service.in \
		> $(DESTDIR)$(UNITDIR)/hexcri.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/hexcri.service
	install -d -m 0755 $(DESTDIR)$(SYSCONFDIR)/hexcri
	@if [ -e $(DESTDIR)$(SYSCONFDIR)/hexcri/config.toml ]; then \
		echo "keeping $(DESTDIR)$(SYSCONFDIR)/hexcri/config.toml"; \
	else install -m 0644 deploy/config.toml $(DESTDIR)$(SYSCONFDIR)/hexcri/config.toml; fi
	install -D -m 0644 deploy/containerd-config.toml $(DESTDIR)$(SHAREDIR)/containerd-config.toml
	install -D -m 0644 -t $(DESTDIR)$(PREFIX)/share/doc/hexcri docs/operations.md docs/configuration.md
	@echo "installed; next: merge $(SHAREDIR)/containerd-config.toml into containerd's config,"
	@echo "then: systemctl daemon-reload && hexcri check && systemctl enable --now hexcri"

clean:
	rm -rf $(VENV) adapters/containerd/gen .pytest_cache .mypy_cache .ruff_cache
