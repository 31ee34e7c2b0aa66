# sim-arena-gym: every target creates and uses its own virtual environment in $(VENV).
#
#   make demo    install, then run a demo episode on the embedded backend
#   make test    install, then run the test suite
#   make bench   install, then run the benchmarks (prints figures)
#   make diagram render docs/images/architecture.dot to .svg and .png (needs Graphviz's `dot`)
#   make clean-ns  remove what simkube-backend runs left in the cluster (`sim-arena clean`);
#                  KUBECONFIG=... TRACE_STORE=... CLEAN_ARGS=--all as needed
#
# PyTorch (needed by the `train` extra, stable-baselines3) is installed first from TORCH_SPEC.
# The default asks for the CPU build this machine keeps on local disk; override it on other machines,
# e.g. `make test TORCH_SPEC="torch --index-url https://download.pytorch.org/whl/cpu"`, or skip it with
# `make test TORCH_SPEC=`.
# EXTRAS: the rllib extra (Ray RLlib, ~650 MB) is in the default so that CI runs the RLlib test;
# `make test EXTRAS=train,test` leaves it out (that test then skips).

PYTHON ?= python3
VENV ?= .venv
TORCH_SPEC ?= torch==2.13.0
EXTRAS ?= train,test,rllib,mcp
PYTEST_ARGS ?=
KUBECONFIG ?=
TRACE_STORE ?=
CLEAN_ARGS ?=

BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(EXTRAS)

.PHONY: install demo test bench clean clean-ns diagram

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	@if [ -n "$(TORCH_SPEC)" ]; then $(BIN)/python -m pip install -q $(TORCH_SPEC); fi
	$(BIN)/python -m pip install -q -e ".[$(EXTRAS)]"
	@touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/sim-arena demo

test: install
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

bench: install
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache

clean-ns: install
	$(BIN)/sim-arena clean $(if $(KUBECONFIG),--kubeconfig $(KUBECONFIG)) $(if $(TRACE_STORE),--trace-store $(TRACE_STORE)) $(CLEAN_ARGS)

diagram:
	dot -Tsvg docs/images/architecture.dot -o docs/images/architecture.svg
	dot -Tpng -Gdpi=110 docs/images/architecture.dot -o docs/images/architecture.png
