# README's commands: `make run` (install + local stack), `make test` (install + the suite, what CI runs),
# `make synth` (every stage's templates under cdk.out/<stage>/, no AWS credentials needed) and
# `make deploy STAGE=…` (one stage through CDK), `make deploy-data` + `make chalice-deploy` (a dev stage with Chalice).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed
STAGES := dev staging prod
STAGE ?= dev
DEPLOY_FLAGS ?=
# jsii (the CDK's bridge to Node) prints a banner about Node 20's end of life on every start; the CDK works on it.
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20

.PHONY: run demo test lint install synth deploy deploy-data chalice-deploy

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip<26.3"  # chalice 1.34 requires pip < 26.3
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	# the `switchboard` command (pyproject.toml's scripts); the code stays where it is, dependencies are above
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $(NODE_STAMP)

install: $(STAMP) $(NODE_STAMP)

run: $(STAMP)
	$(BIN)/python -m infra.local $(ARGS)

demo: $(STAMP)
	$(BIN)/python -m infra.local --demo $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .

test: $(STAMP) $(NODE_STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

synth: $(STAMP)
	rm -rf cdk.out
	for stage in $(STAGES); do $(BIN)/python -m infra.cdk.app --stage $$stage --outdir cdk.out/$$stage || exit 1; done

deploy: $(STAMP) $(NODE_STAMP)
	$(BIN)/python -m infra.cdk.app --stage $(STAGE) --outdir cdk.out/$(STAGE)
	npx cdk deploy --app cdk.out/$(STAGE) --all $(DEPLOY_FLAGS)

deploy-data: $(STAMP) $(NODE_STAMP)
	$(BIN)/python -m infra.cdk.app --stage $(STAGE) --outdir cdk.out/$(STAGE)
	npx cdk deploy --app cdk.out/$(STAGE) switchboard-$(STAGE)-data $(DEPLOY_FLAGS)

chalice-deploy: $(STAMP)
	$(BIN)/python -m infra.cdk.dev prepare --stage $(STAGE)
	cd build/chalice/$(STAGE) && $(abspath $(BIN))/chalice deploy --stage $(STAGE)
	$(BIN)/python -m infra.cdk.dev finish --stage $(STAGE)
