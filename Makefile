# facegate: `make run` sets everything up and starts facegate; `make test` runs the whole suite.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: install run test lint typecheck unit bench bench-env clean browser

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[server,eval,test,libfacedetection]'
	touch $(STAMP)

install: $(STAMP)

run: install
	$(VENV)/bin/facegate serve --host 127.0.0.1 --port 8000

lint: install
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench

typecheck: install
	$(VENV)/bin/mypy src

unit: install browser
	$(PY) -m pytest

test: lint typecheck unit

# The console's browser test drives Debian's chromium (not Playwright's download).
browser:
	@test -x /usr/bin/chromium || { \
	  echo "installing Debian's chromium for the browser test (apt-get)"; \
	  SUDO=$$([ "$$(id -u)" = 0 ] || echo "sudo -n"); \
	  { $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium; } \
	  || echo "warning: chromium not installed; the browser test will skip"; }

# Benchmarks compare with face_recognition, installed only in this separate environment.
BENCH_VENV := .venv-bench

bench-env:
	test -x $(BENCH_VENV)/bin/python || $(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/pip install --quiet -e '.[eval]' click
	$(BENCH_VENV)/bin/pip install --quiet --no-deps face_recognition

bench: install bench-env
	$(PY) bench/lfw_accuracy.py
	$(PY) bench/agreement.py
	$(BENCH_VENV)/bin/python bench/throughput.py

clean:
	rm -rf $(VENV) build dist src/*.egg-info .mypy_cache .ruff_cache .pytest_cache
