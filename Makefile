# The two commands of README.md. Both create .venv when it is missing.
VENV ?= .venv
PY := $(VENV)/bin/python
CORES ?= all

.PHONY: run test lint clean

# Reinstall when the project's dependencies change.
$(VENV)/.installed: pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

# Runs the workflow, then writes results/report.html (tables and figures).
run: $(VENV)/.installed
	$(VENV)/bin/snakemake --cores $(CORES) --report-after-run --report results/report.html

test: $(VENV)/.installed
	$(VENV)/bin/pytest

lint: $(VENV)/.installed
	$(VENV)/bin/snakemake --lint
	$(VENV)/bin/snakefmt --check .

clean:
	rm -rf results .snakemake
