# The two commands of the README do all the set-up on a fresh machine:
#   make serve   creates .venv, installs the emulator, serves on 127.0.0.1:$(PORT)
#   make test    installs what the tests need (the SDK and client venvs too) and runs the whole suite
PY ?= python3
PORT ?= 8000
HOST ?= 127.0.0.1
VENV := .venv
SDK_VENVS := .venv-sdk
SDK1 := $(SDK_VENVS)/1.20.11
SDK2 := $(SDK_VENVS)/2.0.2
# The quick start's client venv (make sdk), and one venv per third-party client for the contract tests
CLIENT_VENV := .venv-client
CLIENT_PINS := 'dashscope==2.0.2' 'openai==3.57.0'
CLIENTS := .venv-clients
langchain_PINS := 'langchain-community==0.4.2' 'langchain-core==1.8.3' 'dashscope==2.0.2'
litellm_PINS := 'litellm==1.110.2'
PIP_QUIET := --quiet --disable-pip-version-check
PYTEST_ARGS ?=
# The suite runs on two pytest-xdist workers (every live server takes its own free port and tmp dir).
PYTEST_WORKERS ?= 2
BENCH_ARGS ?=

.PHONY: serve sdk test test-fast lint bench clean install chromium venvs

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(VENV)/bin/python || $(PY) -m venv $(VENV)
	$(VENV)/bin/pip install $(PIP_QUIET) -e '.[test]'
	touch $@

# Each dashscope SDK lives in a venv of its own: the two versions cannot share one, and 2.x
# brings its own starlette/fastapi that must not meet ours.
$(SDK_VENVS)/%/.installed:
	test -x $(SDK_VENVS)/$*/bin/python || $(PY) -m venv $(SDK_VENVS)/$*
	$(SDK_VENVS)/$*/bin/pip install $(PIP_QUIET) 'dashscope==$*'
	touch $@

# The README's quick start: the dashscope SDK (module and CLI) and openai, in a venv of their own.
sdk: $(CLIENT_VENV)/.installed
	@echo "The dashscope SDK and CLI (2.0.2) and openai are in $(CLIENT_VENV); in your shell:"
	@echo "    source $(CLIENT_VENV)/bin/activate"

$(CLIENT_VENV)/.installed:
	test -x $(CLIENT_VENV)/bin/python || $(PY) -m venv $(CLIENT_VENV)
	$(CLIENT_VENV)/bin/pip install $(PIP_QUIET) --no-compile $(CLIENT_PINS)
	touch $@

# Third-party clients (tests/contract/test_other_clients.py), each pinned in a venv of its own. Test-only venvs:
# no pip of their own (the test venv's pip installs into them) and no .pyc compiled up front, which halves the time.
$(CLIENTS)/%/.installed: | $(VENV)/.installed
	test -x $(CLIENTS)/$*/bin/python || $(PY) -m venv --without-pip $(CLIENTS)/$*
	$(VENV)/bin/pip --python $(CLIENTS)/$*/bin/python install $(PIP_QUIET) --no-compile $($*_PINS)
	touch $@

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
# the installs are most of `make test`'s time, and they wait on the network and pip, not on the CPU.
venvs: $(VENV)/.installed $(SDK1)/.installed $(SDK2)/.installed $(CLIENT_VENV)/.installed \
		$(CLIENTS)/langchain/.installed $(CLIENTS)/litellm/.installed chromium

test:
	$(MAKE) --no-print-directory -j4 venvs
	$(MAKE) --no-print-directory lint
	EMULATOR_REQUIRE_SDK=1 $(VENV)/bin/python -m pytest -q -n $(PYTEST_WORKERS) $(PYTEST_ARGS)

test-fast: $(VENV)/.installed
	$(VENV)/bin/python -m pytest -q -m "not contract and not slow" $(PYTEST_ARGS)

# The bench extra (profilers) on top of the test venv, and wrk from Debian for the load; without wrk the bench
# falls back to its own Python load client and says so in the report.
$(VENV)/.bench-installed: pyproject.toml $(VENV)/.installed
	$(VENV)/bin/pip install $(PIP_QUIET) -e '.[test,bench]'
	touch $@

bench: $(VENV)/.bench-installed
	@command -v wrk >/dev/null || (DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null 2>&1 || \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null)) || \
		echo "make: wrk unavailable; the bench uses its Python load client" >&2
	$(VENV)/bin/python bench/run.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) $(SDK_VENVS) $(CLIENT_VENV) $(CLIENTS) .data test-artifacts .mypy_cache *.egg-info
