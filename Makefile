# One command to start the app, one to run the tests. Both set up .venv first.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup run test lint bench browser

$(STAMP): requirements.txt pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements.txt
	$(BIN)/pip install -q --no-deps -e .
	touch $(STAMP)

setup: $(STAMP)
	$(BIN)/python -m core.samples > /dev/null
	$(BIN)/python -m dashboard.assets > /dev/null

run: setup
	$(BIN)/streamlit run dashboard/app.py

browser:
	@command -v chromium > /dev/null || (apt-get update -q && apt-get install -y -q chromium) \
		|| echo "chromium could not be installed: browser tests will be skipped"

test: setup browser
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

lint: setup
	$(BIN)/ruff check .

bench: setup
	$(BIN)/python bench/colorize.py
