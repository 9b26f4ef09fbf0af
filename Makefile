# The two commands of the README. Both work on a machine that has never seen the project.
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: demo test lint release clean-demo

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

demo: $(VENV)/.installed  ## a local federation of real apiservers, the plugin doing its work
	bash scripts/demo.sh

test: $(VENV)/.installed  ## lint, type checks, unit and end-to-end tests
	bash scripts/test.sh

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

release: $(VENV)/.installed  ## build the krew archive and write its sha256 into plugin-manifest/fed.yaml
	$(PY) -m scripts.release

clean-demo:
	$(PY) -m tests.localcluster down --dir .localcluster
