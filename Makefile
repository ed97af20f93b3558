# Rampart — every entry point. `make demo` and `make test` do all their own set-up.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup system-deps lock demo test test-fast test-hosts lint clean fresh-check

$(STAMP): requirements.lock pyproject.toml
	@command -v $(PYTHON) >/dev/null || PYTHON=python3; \
	  test -x $(BIN)/python || $${PYTHON:-$(PYTHON)} -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q --require-hashes -r requirements.lock
	$(BIN)/python -m pip install -q --no-deps --no-build-isolation -e .
	touch $(STAMP)

setup: $(STAMP) ## Python environment from the lock file

lock: ## Re-resolve the lock file from pyproject.toml
	uv pip compile pyproject.toml --extra dev --generate-hashes --python-version 3.11 -o requirements.lock

system-deps: ## Debian packages the lab and the integration tier need (root; no-op when present)
	bash scripts/system-deps.sh

.PHONY: checkov-venv
checkov-venv: ## checkov in its own venv from requirements-checkov.lock (no-op when current)
	bash scripts/checkov-venv.sh

demo: setup system-deps ## The main job on the embedded default
	$(BIN)/rampart demo

test-fast: setup ## Unit tier only (inner loop)
	$(BIN)/pytest -m unit -q

EVIDENCE := out/evidence

test: setup system-deps ## Every test tier: unit, integration, hosts (lab); then the readiness report
	RAMPART_EVIDENCE_DIR=$(EVIDENCE) $(BIN)/python scripts/test_tiers.py -q
	$(BIN)/rampart policy check --stack dev --format sarif --out out/policy.sarif --force --evidence $(EVIDENCE)
	$(BIN)/rampart readiness --evidence $(EVIDENCE) --out out/readiness.html --force
	$(BIN)/rampart readiness --evidence $(EVIDENCE) --format markdown --out out/readiness.md --force

.PHONY: readiness-ci
readiness-ci: setup ## Readiness report without the lab (what CI publishes; docs/ci.md)
	BIN=$(BIN) EVIDENCE=$(EVIDENCE) bash scripts/readiness-ci.sh

test-hosts: setup system-deps ## Host tier only (builds the lab rootfs when missing)
	$(BIN)/pytest -m hosts -q

fresh-check: ## Before submitting: the committed HEAD's `make demo` + `make test` in a clone, empty caches
	bash scripts/fresh-check.sh

lint: setup
	$(BIN)/ruff check infra policies tests benchmarks playbooks roles __main__.py
	$(BIN)/mypy infra policies
	$(BIN)/yamllint -s .
	$(BIN)/ansible-lint --profile production roles playbooks

clean:
	rm -rf $(VENV) build *.egg-info
