# Day-to-day targets; `make migrate` then `make test` is all a fresh clone needs.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
MIGRATE := $(BIN)/migrate

# m="..." reaches migrate exactly as typed: single-quoted for the shell, without make's
# or the shell's expansion of $ and backticks. GNU make exports a command-line variable to
# the recipes' environment and expands it to do so (running any $(shell ...) in it):
# m is never exported.
shell_quote = '$(subst ','\'',$(1))'
unexport m

.PHONY: install migrate migration downgrade heads merge test lint bench

# Creates the virtualenv and installs the project with its test and driver extras.
install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

.env:
	cp .env.example .env
	@echo "Created .env from .env.example: review DATABASE_URL before migrating a real database."

migrate: install .env
	$(MIGRATE) upgrade

migration: install .env
	$(if $(value m),,@echo 'usage: make migration m="Add email field to users"' >&2; exit 2)
	$(MIGRATE) create $(call shell_quote,$(value m))

downgrade: install .env
	$(MIGRATE) downgrade

heads: install .env
	$(MIGRATE) heads

merge: install .env
	$(MIGRATE) merge $(if $(value m),-m $(call shell_quote,$(value m)))

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: install lint
	$(BIN)/python -m pytest

# Measurements, not tests: slow, and PostgreSQL and MariaDB only when their
# MIGRATIONS_TEST_*_URL are set (as for the tests).
bench: install
	$(BIN)/python bench/concurrent_upgrades.py
	$(BIN)/python bench/revision_graph.py
	$(BIN)/python bench/upgrade_instructions.py
	$(BIN)/python bench/squawk_catalogue.py
	$(BIN)/python bench/fan_out.py
