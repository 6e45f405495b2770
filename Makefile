# The few commands everyone runs. Each creates .venv at the repository root when missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export KERAS_BACKEND := tensorflow
export TF_CPP_MIN_LOG_LEVEL := 3

.PHONY: serve test lint bench dataset train export verify clean lock

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip==25.3

# One stamp per dependency set, rebuilt when pyproject.toml or the lock changes.
$(VENV)/.serve: pyproject.toml constraints.txt build-constraints.txt | $(BIN)/python
	$(BIN)/pip install --quiet -c constraints.txt --build-constraint build-constraints.txt \
		-e ".[service,cpu]"
	touch $@

$(VENV)/.all: pyproject.toml constraints.txt build-constraints.txt | $(BIN)/python
	$(BIN)/pip install --quiet -c constraints.txt --build-constraint build-constraints.txt \
		-e ".[service,cpu,export,dev]"
	touch $@ $(VENV)/.serve

# The lock: every package of a fresh install of all the extras, at the versions pip chose.
lock:
	rm -rf .venv-lock && $(PYTHON) -m venv .venv-lock
	.venv-lock/bin/pip install --quiet --upgrade pip==25.3
	.venv-lock/bin/pip install --quiet --build-constraint build-constraints.txt \
		-e ".[service,cpu,export,dev]"
	{ sed -n '1,/^# pyproject.toml: make lock./p' constraints.txt; \
	  .venv-lock/bin/pip freeze --exclude-editable; } > constraints.txt.new
	mv constraints.txt.new constraints.txt && rm -rf .venv-lock

serve: $(VENV)/.serve
	$(BIN)/python -m service --port 8000

lint: $(VENV)/.all
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# The page's browser tests drive Debian's chromium through its chromedriver (CI runs as root).
/usr/bin/chromedriver:
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver

test: lint /usr/bin/chromedriver
	$(BIN)/pytest

dataset train export verify: $(VENV)/.all
	$(BIN)/python -m model_export $@

# BentoML, the framework contender, lives in its own venv; without it the comparison runs
# without that contender and says so.
.venv-bench/.installed: pyproject.toml
	$(PYTHON) -m venv .venv-bench
	.venv-bench/bin/pip install --quiet -e ".[service,cpu,bentoml]" && touch $@ \
		|| echo "BentoML did not install: make bench compares without it"

bench: $(VENV)/.all .venv-bench/.installed
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache

# The container checks (deploy/tests): the CPU image built from the Dockerfile on a Debian base
# made here, run by Podman and podman-compose, the Deployment's pod under `podman kube play`,
# the manifests validated offline. Root on Debian (it installs Podman with apt). Its tools live
# in .venv-deploy, locked apart (deploy/requirements.txt says why).
.PHONY: image-test deploy-lock
DEPLOY_VENV := .venv-deploy

$(DEPLOY_VENV)/.installed: deploy/requirements.txt deploy/constraints.txt
	rm -rf $(DEPLOY_VENV) && $(PYTHON) -m venv $(DEPLOY_VENV)
	$(DEPLOY_VENV)/bin/pip install --quiet -c deploy/constraints.txt -r deploy/requirements.txt
	touch $@

image-test: $(VENV)/.all $(DEPLOY_VENV)/.installed
	$(BIN)/pytest -p no:cacheprovider deploy/tests

deploy-lock:
	rm -rf .venv-deploy-lock && $(PYTHON) -m venv .venv-deploy-lock
	.venv-deploy-lock/bin/pip install --quiet -r deploy/requirements.txt
	{ sed -n '1p' deploy/constraints.txt; .venv-deploy-lock/bin/pip freeze; } > deploy/constraints.txt.new
	mv deploy/constraints.txt.new deploy/constraints.txt && rm -rf .venv-deploy-lock
