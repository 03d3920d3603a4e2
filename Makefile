# agentvm developer entry points. Every target is idempotent and sets up what it needs:
# a fresh clone needs only `make run` or `make test` (Python 3.11+, Node 20+, npm).

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
BUILD := .build
COMMANDS_DIR := sidecar/agentvm_sidecar/software/commands
SOFTWARE_DIR := sidecar/agentvm_sidecar/software
# `agentvm-sidecar setup` (software/setup.py) is the one command an installed sidecar
# runs too: the core is the agentOS packages and our grep; the full /bin adds the
# toolbox (python3, jq, yq, rg, fd, tree: pinned modules; sqlite3: built with zig; make,
# patch, curl and git: built from Debian sources with agentvm-cc by software/recipes/).
CORE_STAMP := $(BUILD)/software/.setup-core
SOFTWARE_STAMP := $(BUILD)/software/.setup
GUESTS_STAMP := $(BUILD)/guests/.built
TS_DIR := clients/typescript
TS_STAMP := $(TS_DIR)/dist/.built
PYTEST_ARGS ?=

.PHONY: setup warm bytecode run test test-py test-ts schemas bench lint clean security-report

# `make run` needs only the venv and the core guest software; `make test` all of /bin,
# the test guests and the TypeScript client. Every step longer than a second says what
# it does.
setup: $(VENV)/.installed $(SOFTWARE_STAMP) $(GUESTS_STAMP) $(TS_STAMP) warm bytecode

$(VENV)/.installed: pyproject.toml
	@echo "setup: installing agentvm and its dev tools into $(VENV) (pip)..."
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $@

$(CORE_STAMP): $(VENV)/.installed $(SOFTWARE_DIR)/pins.py $(wildcard $(COMMANDS_DIR)/*.c) $(COMMANDS_DIR)/build.py $(wildcard sidecar/agentvm_sidecar/native/*.c)
	@$(PY) -m agentvm_sidecar setup --no-toolbox
	@touch $@

RECIPE_INPUTS := $(shell find $(SOFTWARE_DIR)/recipes $(SOFTWARE_DIR)/cc -type f -not -name '*.pyc')

$(SOFTWARE_STAMP): $(CORE_STAMP) $(SOFTWARE_DIR)/module_pins.py $(SOFTWARE_DIR)/sqlite.py $(RECIPE_INPUTS)
	@$(PY) -m agentvm_sidecar setup --no-warm
	@touch $@

# Compile every /bin module into the module cache now, so first use does not (CPython
# and the Codex CLI take a minute or more each); a warm machine only checks. Always runs: the cache
# lives outside the tree (~/.cache/agentvm/modules) and may have been cleared.
warm: $(SOFTWARE_STAMP)
	@$(PY) -m agentvm_sidecar.software.warm

# Python reads .pyc files even where it may not write them (PYTHONDONTWRITEBYTECODE, set
# on some machines and CIs): without them every sidecar start compiles ~500 modules of
# this checkout (~0.2 s, measured), and the suite starts hundreds. Up to date: ~0.1 s.
bytecode: $(VENV)/.installed
	@$(PY) -m compileall -q -j 0 sidecar/agentvm_sidecar protocol/agentvm_protocol clients/python/agentvm

$(GUESTS_STAMP): $(VENV)/.installed $(wildcard tests/guests/*.c) tests/guests/build.py
	@echo "setup: compiling the C test guests into $(BUILD)/guests (zig cc)..."
	@$(PY) tests/guests/build.py --out $(BUILD)/guests
	@touch $@

$(TS_STAMP): $(wildcard $(TS_DIR)/src/*.ts) $(wildcard $(TS_DIR)/package*.json) $(wildcard schemas/*.json)
	@echo "setup: installing and building the TypeScript client (npm ci, npm run build)..."
	@cd $(TS_DIR) && npm ci --no-audit --no-fund --loglevel=error && npm run --silent build
	@mkdir -p $(TS_DIR)/dist && touch $@

# The quickstart needs the agentOS packages, grep and its web server guest (tests/guests),
# not the toolbox.
run: $(VENV)/.installed $(CORE_STAMP) $(GUESTS_STAMP) bytecode
	@echo "run: examples/quickstart.py"
	@$(PY) examples/quickstart.py

test: setup
	$(MAKE) --no-print-directory test-py test-ts

test-py: $(VENV)/.installed
	$(PY) -m pytest -q -n auto $(PYTEST_ARGS)

test-ts: $(TS_STAMP)
	@if [ -f $(TS_DIR)/package.json ]; then cd $(TS_DIR) && npm test --silent; fi

# Runs tests/security and rewrites the attack table in docs/security.md.
security-report: setup
	$(PY) -m tests.security.report

schemas: $(VENV)/.installed
	$(PY) -m agentvm_protocol.schema_gen schemas

bench: setup
	$(PY) bench/run.py
	$(PY) bench/agent_work.py
	$(PY) bench/net_egress.py
	$(PY) bench/vm_memory.py

lint: $(VENV)/.installed
	$(PY) -m ruff check protocol sidecar clients/python tests bench examples

clean:
	rm -rf $(BUILD) $(TS_DIR)/dist $(TS_DIR)/node_modules
