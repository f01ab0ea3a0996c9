# The two commands of the README do all the set-up on a fresh machine:
#   make serve   creates .venv, installs the emulator, serves on 127.0.0.1:$(PORT)
#   make test    installs what the tests need (the SDK and client venvs too) and runs the whole suite
PY ?= python3
PORT ?= 8000
HOST ?= 127.0.0.1
VENV := .venv
SDK_VENVS := .venv-sdk
# The quick start's client venv (make sdk), and one venv per third-party client for the contract tests:
# every locks/clients/<name>.in (with its compiled locks/clients/<name>.txt) is a venv .venv-clients/<name>.
CLIENT_VENV := .venv-client
CLIENTS := .venv-clients
CLIENT_NAMES := $(sort $(basename $(notdir $(wildcard locks/clients/*.in))))
SDK_VERSIONS := $(sort $(basename $(notdir $(wildcard locks/sdk/*.in))))
PYTEST_ARGS ?=
# The suite runs on two pytest-xdist workers (every live server takes its own free port and tmp dir).
PYTEST_WORKERS ?= 2
BENCH_ARGS ?=

# Locks (docs/contributing-deps.md): every venv installs only from a lock under locks/ (exact versions and
# hashes, compiled by uv from the .in beside it); `make lock` refreshes them all to the newest releases. uv itself
# is pinned (with hashes) in locks/tools.txt and installed from PyPI into a venv of its own.
UV_VENV := .venv-uv
UV := $(UV_VENV)/bin/uv
UV_QUIET := --quiet
UV_SYNC = $(UV) pip sync $(UV_QUIET) --require-hashes
LOCK_UPGRADE ?= --upgrade
LOCK = $(UV) pip compile $(UV_QUIET) --generate-hashes --universal --python-version 3.11 \
	--custom-compile-command 'make lock' $(LOCK_UPGRADE)
# uv uses an interpreter it is given and never downloads one.
export UV_PYTHON_DOWNLOADS := never

.PHONY: serve sdk test test-fast lint bench clean install chromium venvs lock test-latest dist

install: $(VENV)/.installed

$(UV): locks/tools.txt
	test -x $(UV_VENV)/bin/python || $(PY) -m venv $(UV_VENV)
	$(UV_VENV)/bin/pip install -qq --disable-pip-version-check --require-hashes --no-deps -r locks/tools.txt
	touch $@

# The test venv: its locked dependencies, then the emulator itself, editable, with --no-deps (and no build
# isolation: setuptools comes from the lock too).
$(VENV)/.installed: locks/test.txt pyproject.toml | $(UV)
	test -x $(VENV)/bin/python || $(PY) -m venv $(VENV)
	$(UV_SYNC) --python $(VENV)/bin/python locks/test.txt
	$(UV) pip install $(UV_QUIET) --python $(VENV)/bin/python --no-deps --no-build-isolation -e .
	touch $@

# Each dashscope SDK lives in a venv of its own: the two versions cannot share one, and 2.x
# brings its own starlette/fastapi that must not meet ours. Test-only venvs (like the clients' below): no pip.
$(SDK_VENVS)/%/.installed: locks/sdk/%.txt | $(UV)
	test -x $(SDK_VENVS)/$*/bin/python || $(PY) -m venv --without-pip $(SDK_VENVS)/$*
	$(UV_SYNC) --python $(SDK_VENVS)/$*/bin/python $<
	touch $@

# The README's quick start: the dashscope SDK (module and CLI) and openai, in a venv of their own.
sdk: $(CLIENT_VENV)/.installed
	@echo "The dashscope SDK and CLI (2.0.2) and openai are in $(CLIENT_VENV); in your shell:"
	@echo "    source $(CLIENT_VENV)/bin/activate"

$(CLIENT_VENV)/.installed: locks/client.txt | $(UV)
	test -x $(CLIENT_VENV)/bin/python || $(PY) -m venv $(CLIENT_VENV)
	$(UV_SYNC) --python $(CLIENT_VENV)/bin/python $<
	touch $@

# Third-party clients (tests/contract/test_other_clients.py), each in a venv of its own from its lock.
$(CLIENTS)/%/.installed: locks/clients/%.txt | $(UV)
	test -x $(CLIENTS)/$*/bin/python || $(PY) -m venv --without-pip $(CLIENTS)/$*
	$(UV_SYNC) --python $(CLIENTS)/$*/bin/python $<
	touch $@

# A requirements file without its lock stops the build (make lock compiles it); never a silent resolve here.
locks/%.txt:
	@echo "make: locks/$*.txt is missing: run 'make lock' to compile it from locks/$*.in" >&2; exit 1

# Every lock, re-resolved to the newest releases (LOCK_UPGRADE= keeps what each lock has where it can).
lock: | $(UV)
	$(LOCK) locks/tools.in -o locks/tools.txt
	$(LOCK) pyproject.toml locks/build.in --extra test -o locks/test.txt
	$(LOCK) pyproject.toml locks/build.in --extra test --extra bench -o locks/bench.txt
	$(LOCK) pyproject.toml locks/plugin.in -o locks/plugin.txt
	$(LOCK) pyproject.toml locks/build.in -o locks/runtime.txt
	$(LOCK) locks/client.in -o locks/client.txt
	$(foreach in,$(wildcard locks/sdk/*.in locks/clients/*.in),$(LOCK) $(in) -o $(in:.in=.txt) &&) true

# The wheel and the sdist (docs/install.md), built by uv from the sdist with the test venv's locked setuptools
# (tests/packaging/test_wheel.py runs this target, installs the wheel into a clean venv and serves from it).
DIST ?= dist
dist: | $(VENV)/.installed $(UV)
	$(UV) build $(UV_QUIET) --no-build-isolation --python $(VENV)/bin/python --out-dir $(DIST)
	@ls $(DIST)/dashscope_emulator-*

# The dashboard's browser test drives Debian's Chromium (never a downloaded browser). CI runs as root on
# Debian; where the install is impossible the test itself fails under EMULATOR_REQUIRE_SDK=1 and says why.
chromium:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver \
		>/dev/null) || echo "make: could not install chromium + chromium-driver; the browser test will fail" >&2

serve: $(VENV)/.installed
	$(VENV)/bin/dashscope-emulator serve --host $(HOST) --port $(PORT)

# Lint runs before the suite (seconds, with mypy's cache in .mypy_cache/): style, format and strict types.
lint: $(VENV)/.installed
	$(VENV)/bin/ruff check emulator tests bench
	$(VENV)/bin/ruff format --check emulator tests bench
	$(VENV)/bin/mypy --strict emulator

# Every venv the suite needs, built side by side (each target writes only its own folder): on a fresh machine
# the installs wait on the network and uv (its cache in ~/.cache/uv makes a rebuild take seconds), not the CPU.
venvs: $(VENV)/.installed $(SDK_VERSIONS:%=$(SDK_VENVS)/%/.installed) $(CLIENT_VENV)/.installed \
		$(CLIENT_NAMES:%=$(CLIENTS)/%/.installed) chromium

test:
	$(MAKE) --no-print-directory -j4 venvs
	$(MAKE) --no-print-directory lint
	EMULATOR_REQUIRE_SDK=1 $(VENV)/bin/python -m pytest -q -n $(PYTEST_WORKERS) $(PYTEST_ARGS)

# The canary (docs/contributing-deps.md), not part of make test or CI: the same venvs from the newest releases under
# .venv-latest/, the contract and client tests against them, then a table of locked and newest versions per client.
CANARY_ARGS ?= tests/contract
test-latest: | $(UV)
	$(PY) locks/canary.py --uv $(UV) --workers $(PYTEST_WORKERS) -- $(CANARY_ARGS)

test-fast: $(VENV)/.installed
	$(VENV)/bin/python -m pytest -q -m "not contract and not slow" $(PYTEST_ARGS)

# The bench extra (profilers) on top of the test venv, and wrk from Debian for the load; without wrk the bench
# falls back to its own Python load client and says so in the report.
$(VENV)/.bench-installed: locks/bench.txt $(VENV)/.installed
	$(UV_SYNC) --python $(VENV)/bin/python locks/bench.txt
	$(UV) pip install $(UV_QUIET) --python $(VENV)/bin/python --no-deps --no-build-isolation -e .
	touch $@

bench: $(VENV)/.bench-installed
	@command -v wrk >/dev/null || (DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null 2>&1 || \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null)) || \
		echo "make: wrk unavailable; the bench uses its Python load client" >&2
	$(VENV)/bin/python bench/run.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) $(SDK_VENVS) $(CLIENT_VENV) $(CLIENTS) $(UV_VENV) .venv-latest dist build .data test-artifacts .mypy_cache *.egg-info
