# facegate: `make run` sets everything up and starts facegate; `make test` runs the whole suite.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
RUN_STAMP := $(VENV)/.installed-run
# `make run` installs what running needs; `make test` (and lint, typecheck) also the test tools.
RUN_EXTRAS  := server,libfacedetection,video
TEST_EXTRAS := server,eval,test,libfacedetection,video,postgres
# `make run PORT=8001 HOST=0.0.0.0`; without them facegate's settings decide
# (FACEGATE_SERVER__PORT, FACEGATE_SERVER__HOST, else 127.0.0.1:8000). Only values given on the
# make command line count: a HOST or PORT left in the environment by something else does not.
cmdline = $(if $(filter command line,$(origin $(1))),$($(1)))

.PHONY: install run test lint typecheck unit bench bench-env clean browser postgres

define venv_install
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[$(1)]'
endef

$(STAMP): pyproject.toml
	$(call venv_install,$(TEST_EXTRAS))
	touch $(STAMP) $(RUN_STAMP)

$(RUN_STAMP): pyproject.toml
	$(call venv_install,$(RUN_EXTRAS))
	touch $(RUN_STAMP)

install: $(STAMP)

run: $(RUN_STAMP)
	$(VENV)/bin/facegate serve $(if $(call cmdline,HOST),--host $(call cmdline,HOST)) \
	  $(if $(call cmdline,PORT),--port $(call cmdline,PORT))

lint: install
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench

typecheck: install
	$(VENV)/bin/mypy src

unit: install browser postgres
	$(PY) -m pytest

test: lint typecheck unit

# The console's browser test drives Debian's chromium (not Playwright's download).
browser:
	@test -x /usr/bin/chromium || { \
	  echo "installing Debian's chromium for the browser test (apt-get)"; \
	  SUDO=$$([ "$$(id -u)" = 0 ] || echo "sudo -n"); \
	  { $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium; } \
	  || echo "warning: chromium not installed; the browser test will skip"; }

# The store contract tests start a throwaway PostgreSQL cluster (initdb, pg_ctl) from Debian's
# postgresql package; without it they skip with the reason.
postgres:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null || { \
	  echo "installing Debian's postgresql for the store contract tests (apt-get)"; \
	  SUDO=$$([ "$$(id -u)" = 0 ] || echo "sudo -n"); \
	  { $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq postgresql; } \
	  || echo "warning: postgresql not installed; the PostgreSQL store tests will skip"; }

# Benchmarks compare with face_recognition, installed only in this separate environment.
BENCH_VENV := .venv-bench

bench-env:
	test -x $(BENCH_VENV)/bin/python || $(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/pip install --quiet -e '.[eval,libfacedetection]' click
	$(BENCH_VENV)/bin/pip install --quiet --no-deps face_recognition

bench: install bench-env
	$(PY) bench/lfw_accuracy.py
	$(PY) bench/agreement.py
	$(BENCH_VENV)/bin/python bench/throughput.py

clean:
	rm -rf $(VENV) build dist src/*.egg-info .mypy_cache .ruff_cache .pytest_cache
