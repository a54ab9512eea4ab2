# The two commands of the README: `make run` (install, then the demo) and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The versions this project is tested with; on the dev machines these install from local disk.
TORCH_PINS ?= torch==2.14.1 torchvision==0.29.1
CORES ?= all

.PHONY: install install-cluster run test test-fast test-cluster bench lint clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet $(TORCH_PINS)
	$(BIN)/python -m pip install --quiet -e '.[test]' $(TORCH_PINS)
	touch $@

# The SLURM executor plugin, for `snakemake --profile profiles/slurm`.
install-cluster: $(VENV)/.installed-cluster

$(VENV)/.installed-cluster: $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e '.[test,cluster]' $(TORCH_PINS)
	touch $@

run: install
	$(BIN)/snakemake --cores $(CORES)

test: install
	$(BIN)/python -m pytest -q

# The unit tests: no Snakemake run, no network; under a minute on 2 cores.
FAST_TESTS := tests/test_config.py tests/test_fill.py tests/test_frames.py tests/test_gatys.py tests/test_photo_scene.py \
	tests/test_cli.py tests/test_stitch.py tests/test_warm.py tests/test_video.py tests/test_plan.py

# test_stitch's segment test runs the workflow (36 s); the full suite has it.
test-fast: install
	$(BIN)/python -m pytest -q $(FAST_TESTS) \
		--deselect tests/test_stitch.py::test_a_long_shot_in_segments_runs_as_independent_chains_whose_seams_are_cross_faded

# A real one-node SLURM (slurm-wlm and munge from apt, as root) renders the tiny config through profiles/slurm
# and must match a local run; the test stops the daemons it started.
test-cluster: install-cluster
	@command -v slurmctld >/dev/null && command -v munged >/dev/null || \
		{ apt-get update -qq && apt-get install -y -qq --no-install-recommends slurm-wlm munge >/dev/null; }
	$(BIN)/python -m pytest -q -m cluster tests/test_cluster.py

bench: install
	$(BIN)/python bench/gatys_speed.py
	$(BIN)/python bench/flow_speed.py
	$(BIN)/python bench/feedforward_speed.py
	$(BIN)/python bench/gatys_quality.py

lint: install
	$(BIN)/ruff check src tests bench workflow/scripts
	$(BIN)/snakemake --lint

clean:
	rm -rf results .snakemake
