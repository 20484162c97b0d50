# Every target sets itself up: .venv is created when missing and the project installed into it.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: demo test bench mutation notebooks setup system-deps clean

demo: $(STAMP)
	$(BIN)/transfer-sim run scenarios/baseline.toml --out reports/baseline --report --force

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/pip install -q -e '.[bench]'
	$(BIN)/python benchmarks/bench_engine.py $(BENCH_ARGS)

# Mutation testing of model/lifecycle.py, model/results/metrics.py and model/sim/engine.py
# (docs/testing.md): scores printed, survivors in reports/mutation/. Not part of CI (too slow).
# MUTATION_ARGS="lifecycle" runs one target; "--report-only" re-reads the last run.
mutation: $(STAMP)
	$(BIN)/pip install -q -e '.[mutation]'
	$(BIN)/python tests/mutation.py $(MUTATION_ARGS)

notebooks: $(STAMP)
	$(BIN)/pip install -q -e '.[notebooks]'
	$(BIN)/jupyter lab notebooks/

setup: $(STAMP)

$(STAMP):
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	@bash .ci/system-deps
	@rm -f $(VENV)/.installed-* && touch $@

# Graphviz (diagram images), Chromium (report screenshot test) and Node (JavaScript adapter test)
# come from Debian's packages; without root they are skipped with a message and the features that
# need them say so. Under CI (CI set, as .ci/run does) a missing one fails the set-up and the tests.
system-deps:
	bash .ci/system-deps

clean:
	rm -rf $(VENV) reports/*/ .pytest_cache
