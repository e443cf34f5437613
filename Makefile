# Two commands on a fresh machine (Python >= 3.11 and make):
#   make run    install everything and simulate the nazorg-plus seed model
#   make test   install everything and run ruff, mypy and the whole test suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test install lint typecheck bench clean browser report

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[all]"
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/mkba-sim replicate models/nazorg_plus.toml
	mkdir -p out
	$(BIN)/mkba-sim run models/nazorg_plus.toml --draws 1000000 --seed 1 --out out/nazorg_plus.nc

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy

test: $(STAMP) lint typecheck browser
	$(BIN)/pytest -n 2 -q

# Headless chromium for the HTML report's browser tests: Debian's package, installed only
# when missing and only as root (CI); otherwise the browser tests skip (fail under CI=true).
browser:
	@if command -v chromium >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	else echo "chromium not found: install it (apt-get install chromium) to run the browser tests"; fi

report: $(STAMP)
	mkdir -p out
	$(BIN)/mkba-sim report models/nazorg_plus.toml --lang nl --out out/nazorg_plus-nl.html

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_engine.py

clean:
	rm -rf $(VENV) out .pytest_cache .mypy_cache .ruff_cache
