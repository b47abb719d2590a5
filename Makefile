# One command to start the app, one to run the tests. Both set up .venv first.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup run test lint bench browser train train-ombria evaluate

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
	$(BIN)/streamlit run dashboard/serve.py

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

# The default model from scratch on this 2-core CPU (about 150 min wall clock, both cores), then published:
# lab_context (95 min: SAR -> CIELAB, L from every target); the EuroSAT colouriser (12 min) and the grey SEN1-2
# targets given its colour (6 min); lab_context fine-tuned on them with the real colour pairs (35 min).
train: setup
	$(BIN)/python -m training.train --config training/configs/lab_context.toml --threads 2 --max-minutes 95
	$(BIN)/python -m training.colouriser --out runs/colouriser.pt --threads 2 --max-minutes 12
	$(BIN)/python -m training.pseudo_colour --colouriser runs/colouriser.pt --out runs/pseudo_colour
	$(BIN)/python -m training.train --config training/configs/lab_pseudo_colour.toml --threads 2 --max-minutes 35
	$(BIN)/python -m training.publish --run runs/lab_context --run runs/lab_pseudo_colour --default lab_pseudo_colour

# lab_ombria (published for the record, issue 26): OMBRIA's flood pairs with volkov and SEN1-2's grey targets, a
# 5-level U-Net without the tile-wide context, 90 min on one core; then scored beside the others (not the default).
train-ombria: setup
	$(BIN)/python -m training.train --config training/configs/lab_ombria.toml --threads 1 --max-minutes 90
	$(BIN)/python -m training.publish --run runs/lab_ombria --split val test

# Score every published model, the pixel reference (same train sources as the default) and the baselines on
# val and test; refresh the model cards.
MODELS := $(filter-out models/default.pt,$(wildcard models/*.pt))
evaluate: setup
	$(BIN)/python -m training.studies.pixel_reference --out runs/pixel_gbm.pkl --drop-source sebastianelli-zone9
	$(BIN)/python -m training.evaluate --split val test --keep-earlier --pixel-reference runs/pixel_gbm.pkl \
		$(addprefix --checkpoint ,$(MODELS))
	$(BIN)/python -m training.publish $(addprefix --card ,$(basename $(notdir $(MODELS))))
