# Shortcuts; the README's two commands need nothing but Python 3.11.
PY ?= python3
VENV ?= .venv
BIN = $(VENV)/bin

.PHONY: install demo serve test lint format bench bench-import requirements

$(BIN)/g2p:
	$(PY) -m venv $(VENV) && $(BIN)/pip install -e '.[test]'

install: $(BIN)/g2p

demo serve: install
	$(BIN)/g2p serve --demo

test: install
	$(BIN)/pytest

lint: install
	$(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/mypy pbms g2p_registry_base

format: install
	$(BIN)/ruff format . && $(BIN)/ruff check --fix .

# The national-scale benchmark: make bench (1,000,000 individuals), make bench SIZE=10000.
SIZE ?= 1000000
bench: install
	$(BIN)/python -m bench.national --size $(SIZE)

bench-import: install
	$(BIN)/python -m bench.registry_import --households 25000

# Pinned versions for deployments, from the current environment.
requirements: install
	$(BIN)/pip freeze --exclude-editable | grep -v -i -E '^(ast.serialize|librt|pathspec|pygments|pytest|pytest-django|factory.boy|hypothesis|playwright|ruff|mypy|django-stubs|types-|greenlet|pyee|iniconfig|pluggy|mypy.extensions|sortedcontainers|attrs)' > requirements.txt
