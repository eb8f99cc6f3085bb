# hallpulse: the two commands are `make demo` and `make test`.
# Everything they need is installed here: a virtual environment with the Python
# dependencies, Java and Maven for the local Kafka broker, Chromium for the page tests.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
HP     := $(VENV)/bin/hallpulse
STAMP  := $(VENV)/.installed

.PHONY: help install system-deps demo test test-fast chaos bench stop clean

help:
	@echo "make demo   - install, start Kafka, the sink and the worker, simulate a few hours of halls, show the results"
	@echo "make test   - install and run the whole test suite (unit, integration on the real broker, browser)"
	@echo "make chaos  - the fault suite (kills, broker and store outages, disk full, hostile input): prints the trial table"
	@echo "make bench  - one benchmark run (about 10 min): prints the table, writes var/bench/latest.md"
	@echo "make stop   - stop the demo's worker, sink and local Kafka broker"
	@echo "make clean  - remove var/ (broker data, embedded store) and the virtual environment"

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

# Java + Maven run the local broker; Chromium + ChromeDriver drive the page tests.
# Installed from Debian's packages when missing (needs root, as on our machines).
system-deps:
	@missing=""; \
	command -v java >/dev/null || missing="$$missing default-jre-headless"; \
	command -v mvn >/dev/null || missing="$$missing maven"; \
	[ -x /usr/bin/chromium ] || missing="$$missing chromium"; \
	[ -x /usr/bin/chromedriver ] || missing="$$missing chromium-driver"; \
	fc-list :lang=zh-cn 2>/dev/null | grep -q . || missing="$$missing fonts-noto-cjk"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else \
	    echo "missing:$$missing (install them, or run as root with apt-get)"; exit 1; \
	  fi; \
	fi

demo: install system-deps
	bash scripts/demo.sh

test: install system-deps
	$(PY) -m pytest -q -p no:cacheprovider

test-fast: install
	$(PY) -m pytest -q -m "not integration and not browser"

# The fault trials of docs/reliability.md on the real broker and real processes; the table
# of trials is printed at the end and written to var/chaos/trials.md.
chaos: install system-deps
	$(PY) -m pytest -q -p no:cacheprovider tests/chaos

# One run, one table (docs/benchmarks.md): its own broker on free ports, nothing left running.
# BENCH_ARGS=--quick runs every row at a tiny size (under 2 minutes).
BENCH_STAMP := $(VENV)/.bench-installed

$(BENCH_STAMP): $(STAMP) pyproject.toml
	$(PY) -m pip install --quiet -e '.[bench]'
	touch $(BENCH_STAMP)

bench: install system-deps $(BENCH_STAMP)
	BENCH_COMMAND="make bench$(if $(BENCH_ARGS), BENCH_ARGS='$(BENCH_ARGS)')" $(PY) bench/run.py $(BENCH_ARGS)

stop:
	-@bash scripts/demo.sh stop

clean: stop
	rm -rf var $(VENV)
