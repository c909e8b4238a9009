# Two commands: `make demo` runs a real benchmark against the embedded simulator,
# `make test` runs the test suite. Both create .venv and install what they need (fast when done).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

.PHONY: demo test lint
demo: $(STAMP)
	$(BIN)/ais_bench --models sim_api_stream_chat --datasets synthetic_demo --summarizer stable_stage --mode perf

test: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
