# Every command a person or CI runs; `make help` lists them.
# STAGE=<name> picks a shipped profile (deploy_config/profiles); CONFIG=<path> a YAML file.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAGE ?=
CONFIG ?=
CDK_CONTEXT := $(if $(STAGE),-c stage=$(STAGE)) $(if $(CONFIG),-c config=$(CONFIG))
# Node.js 20 is past its end of life; the jsii runtime prints a banner about it at every start.
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
CDK := npx --no-install cdk --no-notices

.PHONY: help setup test lint rehearse synth diff deploy destroy clean

help:
	@echo "make setup      create .venv and install the pinned CDK CLI (idempotent)"
	@echo "make test       lint, type-check and run every test, the rehearsal included"
	@echo "make rehearse   deploy and destroy the dev stage against a local moto server"
	@echo "make synth|diff|deploy|destroy [STAGE=dev|prod] [CONFIG=path.yaml]"

setup: $(VENV)/.installed node_modules/.package-lock.json

$(VENV)/.installed: requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $@

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund

lint: setup
	$(BIN)/ruff check .
	$(BIN)/mypy .

test: lint
	$(BIN)/pytest

rehearse: setup
	$(BIN)/python -m rehearsal

synth: setup
	$(CDK) synth $(CDK_CONTEXT)

diff: setup
	$(CDK) diff $(CDK_CONTEXT)

deploy: setup
	$(CDK) deploy $(CDK_CONTEXT)

destroy: setup
	$(CDK) destroy $(CDK_CONTEXT)

clean:
	rm -rf cdk.out .rehearsal .pytest_cache .mypy_cache .ruff_cache
