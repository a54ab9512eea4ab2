# The two commands of the README: `make run` (install, then the demo) and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The versions this project is tested with; on the dev machines these install from local disk.
TORCH_PINS ?= torch==2.14.1 torchvision==0.29.1
CORES ?= all

.PHONY: install run test bench lint clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet $(TORCH_PINS)
	$(BIN)/python -m pip install --quiet -e '.[test]' $(TORCH_PINS)
	touch $@

run: install
	$(BIN)/snakemake --cores $(CORES)

test: install
	$(BIN)/python -m pytest -q

bench: install
	$(BIN)/python bench/gatys_speed.py
	$(BIN)/python bench/flow_speed.py
	$(BIN)/python bench/feedforward_speed.py
	$(BIN)/python bench/gatys_quality.py

lint: install
	$(BIN)/snakemake --lint

clean:
	rm -rf results .snakemake
