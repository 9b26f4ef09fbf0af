# The two commands of the README. Both work on a machine that has never seen the project.
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: demo test lint release clean-demo soak chaos

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

demo: $(VENV)/.installed  ## a local federation of real apiservers, the plugin doing its work
	bash scripts/demo.sh

test: $(VENV)/.installed  ## lint, type checks, unit and end-to-end tests
	bash scripts/test.sh

soak: $(VENV)/.installed  ## the stateful property test, long: thousands of random steps
	KUBECTL_FED_SOAK=1 $(VENV)/bin/pytest -q -p no:cacheprovider tests/unit/test_sync_stateful.py

chaos: $(VENV)/.installed  ## the chaos run on real apiservers, long (KUBECTL_FED_CHAOS_SEED=N replays)
	KUBECTL_FED_CHAOS_STEPS=$${KUBECTL_FED_CHAOS_STEPS:-150} $(VENV)/bin/pytest -q -s -p no:cacheprovider tests/e2e/test_chaos.py

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

release: $(VENV)/.installed  ## build the krew archive and write its sha256 into plugin-manifest/fed.yaml
	$(PY) -m scripts.release

clean-demo:
	$(PY) -m tests.localcluster down --dir .localcluster
