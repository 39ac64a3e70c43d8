# uvmsim: `make review` and `make test` are the two commands a newcomer needs.
# Every target creates .venv and installs uvmsim with its dev extras when missing.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: review test bench bench-fuzz campaign docs docs-check sabotage lint clean

# The compiled hot path (setup.py, docs/decisions.md): a change to a compiled module or its
# .pxd re-installs, so the extension modules are rebuilt (about 2 minutes; an extension
# module older than its .py is never used meanwhile: src/uvmsim/_compiled.py).
# UVMSIM_PURE=1 make ... installs without compiling.
COMPILED := $(wildcard src/uvmsim/machine/*.pxd src/uvmsim/simulate/*.pxd src/uvmsim/check/strategies/*.pxd) \
	$(shell sed -n 's/^    "\(uvmsim[a-z_.]*\)",$$/src\/\1.py/p' src/uvmsim/_compiled.py | tr . / | sed 's/\/py$$/.py/')

$(STAMP): pyproject.toml setup.py src/uvmsim/_compiled.py $(COMPILED)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	touch $(STAMP)

# A failing verdict is a result (uvmsim review exits 1), not a failed make: only 2 (bad input),
# 3 (internal error) and 130 (interrupted) fail the target.
review: $(STAMP)
	$(BIN)/uvmsim review; rc=$$?; [ $$rc -eq 0 ] || [ $$rc -eq 1 ]

# Both cores (pytest-xdist), a test file per worker: module fixtures are built once.
test: $(STAMP)
	$(BIN)/python -m pytest -n auto --dist loadfile

bench: $(STAMP)
	$(BIN)/python benchmarks/machine_ops.py
	$(BIN)/python benchmarks/checker.py --record benchmarks/results/checker.md
	$(BIN)/python benchmarks/vs_simpy.py
	$(BIN)/python benchmarks/simulate_build.py

# Not in CI (about 35 minutes on 2 shared cores): uvmsim fuzz from scratch against the failures
# the hand-written scenarios found, into benchmarks/results/fuzz.json (docs/fuzz.md renders it;
# run make docs after it).
bench-fuzz: $(STAMP)
	nice -n 10 $(BIN)/python benchmarks/fuzz.py

# Not in CI: a bulk build's worth of randomized checking (docs/sweeps.md), resumable.
campaign: $(STAMP)
	$(BIN)/uvmsim sweep run examples/sweep-campaign.toml --store campaign.sqlite
	$(BIN)/uvmsim report campaign.sqlite

# Rewrite every table and output the docs quote from the command it quotes (docs/generate.py);
# tests/test_docs.py fails when a committed one differs.
docs: $(STAMP)
	$(BIN)/python docs/generate.py

# Every generated block rerun and compared, the stamped slow ones too (minutes; not in CI).
docs-check: $(STAMP)
	$(BIN)/python docs/generate.py --check --all

# Not in CI (minutes): each deliberate breakage of tests/sabotage/breakages.py, applied to a
# copy of the repository, must make the tests named for it fail.
sabotage: $(STAMP)
	$(BIN)/python -m tests.sabotage.run

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks docs
	$(BIN)/ruff format --check src tests benchmarks docs

clean:
	rm -rf $(VENV) build src/*.egg-info .pytest_cache .ruff_cache
