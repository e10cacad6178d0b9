# GitPulse: `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

GOARCH ?= arm64
GOOS ?= linux
GO_BUILD := CGO_ENABLED=0 GOOS=$(GOOS) GOARCH=$(GOARCH) go build -tags lambda.norpc -trimpath -ldflags='-s -w'
ARTIFACTS_DIR ?= bin/$(FUNCTION)
RIE_VERSION := v0.0.0-20261030222936-bef5c4ba774d
RIE := bin/aws-lambda-rie

# The running `make run`'s state folder (GITPULSE_RUN_DIR moves it, as
# the tests do for the stacks they start).
RUN_DIR := $(or $(GITPULSE_RUN_DIR),.run)
LOCAL_ENV := $(RUN_DIR)/local.env

# Functions (directories under functions/) and their SAM logical ids. Add a
# pair when a function does real work.
FUNCTIONS := api token-check token-rotate sync-scheduler sync-worker
DIR_ApiFunction := api
DIR_TokenCheckFunction := token-check
DIR_TokenRotateFunction := token-rotate
DIR_SyncSchedulerFunction := sync-scheduler
DIR_SyncWorkerFunction := sync-worker

.PHONY: help build lint test sam-check smoke run invoke-% build-% clean fmt api-key fuzz-api fuzz-schema bench-sync-big bench-sync-realistic revoke-current rotate-now audit-query logs

help: ## List the targets.
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_%-]+:.*## / {printf "  \033[36m%-22s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)
	@echo "Variables: GOARCH (default arm64), EVENT (for invoke-*), PORT (for run, default 8000)."

build: ## Build every function to bin/<name>/bootstrap (linux/$GOARCH, stripped).
	@for f in $(FUNCTIONS); do \
	  $(GO_BUILD) -o bin/$$f/bootstrap ./functions/$$f && \
	  printf '%-16s %s bytes\n' "$$f" "$$(stat -c %s bin/$$f/bootstrap)"; \
	done

build-%: ## sam build entry point for a logical id (build-ApiFunction, build-TokenCheckFunction): writes $(ARTIFACTS_DIR)/bootstrap.
	@test -n "$(DIR_$*)" || { echo "unknown function $*; known: $(foreach f,$(filter DIR_%,$(.VARIABLES)),$(f:DIR_%=%))"; exit 2; }
	$(GO_BUILD) -o $(ARTIFACTS_DIR)/bootstrap ./functions/$(DIR_$*)

fmt: ## Format the Go code.
	gofmt -w $$(git ls-files '*.go')

lint: ## gofmt, go vet and cfn-lint.
	@out=$$(gofmt -l $$(git ls-files '*.go' | grep -v '^$$')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	go vet ./...
	cfn-lint template.yaml
	@echo "lint: ok (gofmt, go vet, cfn-lint)"

test: ## Unit, integration (moto server, GitLab simulator) and end-to-end (Runtime Interface Emulator) tests, plus lint.
	infra/scripts/test.sh

sam-check: ## SAM CLI (pinned; installed into .venv/sam when missing): sam validate --lint, sam validate per samconfig environment, sam build for arm64 (.aws-sam/build) and this machine (.aws-sam/build-host).
	infra/scripts/sam.sh check

smoke: ## Check a running GitPulse through its public API, one PASS/FAIL line per check: the `make run` stack (.run/local.env), or API_URL=https://... API_KEY=<admin key> for a deployed one.
	@go run ./infra/smoke -env $(LOCAL_ENV) $(ARGS)

run: ## Run GitPulse locally: moto server, the GitLab simulator and the API on 127.0.0.1:PORT (default 8000).
	@go build -o bin/localrun ./infra/localrun && bin/localrun

invoke-%: $(RIE) ## Run a built function under the Runtime Interface Emulator against the local stack (make run), e.g. make invoke-api EVENT=events/api-health.json.
	infra/scripts/invoke.sh $* $(EVENT)

$(RIE):
	@mkdir -p bin
	GOBIN=$(CURDIR)/bin go install github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@$(RIE_VERSION)

rie: $(RIE) ## Build the Lambda Runtime Interface Emulator into bin/.

clean: ## Remove build output and local state.
	rm -rf bin .run .aws-sam

bench-audit: $(RIE) ## Benchmark 1,000 GitLab calls with the audit off, discarded and on (moto server); prints medians and ratios.
	infra/scripts/bench.sh audit

bench-sync: ## Benchmark the GitLab sync on a generated course (moto server): every figure with its goal and PASS/MISS (GitLab requests vs the lower bound, DynamoDB writes on the wire vs the items that had to change, heap, quiet polls); flags via ARGS='-teams 4 -deadline 2m -strict'.
	infra/scripts/bench.sh sync $(ARGS)

bench-sync-big: ## The sync of one project of about 20,000 commits (4 students, 480 commits a week each at full pace, 14 weeks) under the 60 s worker deadline: no failed message, commits read once; ARGS add flags.
	infra/scripts/bench.sh sync -teams 1 -projects-per-team 1 -students-per-team 4 -commits 480 $(ARGS)

bench-sync-realistic: ## bench-sync with GitLab behind 80 ms latency, a self-managed 600/min rate limit and a few 429, 500 and 502 answers: the full-sync wall time that gives; ARGS add flags.
	infra/scripts/bench.sh sync -realistic $(ARGS)

bench-cold: $(RIE) ## Cold starts: each function's stripped bootstrap size, first vs second invocation under the emulator (median of 5 fresh emulators, moto server), and no network call during init; ARGS='-runs 9'.
	infra/scripts/bench.sh cold $(ARGS)

fuzz-schema: ## schemathesis (installed into .venv when missing) against a running `make run`, every check, about 4,000 cases (EXAMPLES=150 per operation and phase; ARGS for more flags); infra/schemathesis/hooks.py sends real cursors for well-formed generated ones.
	infra/scripts/schemathesis.sh

fuzz-api: ## Fuzz the data API (FuzzAPI, 10,000 inputs; FUZZTIME=30s to change) against moto server: no 5xx, JSON only, no key echoed, every answer as openapi.json says.
	infra/scripts/fuzz-api.sh

bench-api: ## Benchmark the data API's read routes on a synced course (moto server): p50/p99, req/s, DynamoDB calls per request, goals PASS/FAIL (non-zero exit on a FAIL); flags via ARGS='-n 100 -json'.
	@infra/scripts/bench.sh api $(ARGS)

rotate-now: ## Rotate the local stack's GitLab token now: the four Secrets Manager steps, as a scheduled rotation runs them.
	@test -f $(LOCAL_ENV) || { echo "start \`make run\` first"; exit 1; }
	@source $(LOCAL_ENV) && go run ./infra/rotatenow

revoke-current: ## Revoke, in the local GitLab simulator, the token AWSCURRENT holds (to try health and the readers' fallback).
	@test -f $(LOCAL_ENV) || { echo "start \`make run\` first"; exit 1; }
	@source $(LOCAL_ENV) && url=$$(go run ./infra/rotatenow -revoke-url) && \
	  curl -sS -o /dev/null -w 'revoked the current token in the simulator (%{http_code})\n' -XPOST "$$url"

api-key: ## Generate a data API key and print it once with its hash and JSON entry: make api-key NAME=dashboard [ROLE=reader|admin]; against a running `make run` it is added to the local keys secret (accepted at once); SECRET_ARN=arn:... appends it to that secret instead.
	@secret="$(SECRET_ARN)"; if [ -z "$$secret" ] && [ -f $(LOCAL_ENV) ]; then source $(LOCAL_ENV); secret=$$API_KEYS_SECRET_ARN; fi; \
	  go run ./infra/apikey -name "$(NAME)" -role "$(or $(ROLE),reader)" -secret "$$secret"

logs: ## Follow the JSON logs of the running `make run` (.run/localrun.log; LOG_LEVEL=debug make run for more, VERBOSE=1 make run to see them in its terminal too).
	@test -f $(RUN_DIR)/localrun.log || { echo "no $(RUN_DIR)/localrun.log: start \`make run\` first"; exit 1; }
	@tail -n 50 -F $(RUN_DIR)/localrun.log

audit-query: ## Audit items of one token, newest first, from the local stack: make audit-query HASH=sha256:... (or TOKEN=<value>) [LIMIT=100].
	@test -f $(LOCAL_ENV) || { echo "start \`make run\` first"; exit 1; }
	@source $(LOCAL_ENV) && go run ./infra/auditquery -limit $${LIMIT:-100}

.PHONY: alerts
alerts: ## The SNS alerts the running `make run` published (token check, rotation), newest first, as an operator reads them in e-mail.
	@test -f $(LOCAL_ENV) || { echo "start \`make run\` first"; exit 1; }
	@source $(LOCAL_ENV) && GITPULSE_RUN_DIR=$(RUN_DIR) go run ./infra/alerts
