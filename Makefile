# Developer entry points. `make demo` and `make test` are the README's quick start.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
SAM_VENV := .venv-sam
SAM := $(SAM_VENV)/bin/sam
SAM_CLI_VERSION := 1.170.0

.PHONY: help i18n-extract i18n-update i18n-compile demo preview preview-check check-emails faults test-fast schemas reengagement test lint typecheck template-lint pytest build deploy report export-customer redrive bench bench-reengagement recs-eval clean send-test segments-validate segments-load experiments-validate experiments-load

help:
	@echo "make i18n-extract  the templates' wording into templates/locale/messages.pot (pybabel extract)"
	@echo "make i18n-update   merge the .pot into every language's messages.po (pybabel update)"
	@echo "make i18n-compile  the .po catalogs to .mo (sam build and the local stack do this too)"
	@echo "make demo   run every sample event through the local embedded stack; emails land in out/outbox/"
	@echo "make preview  every email (trigger x segment x language x cart step x experiment variant) into"
	@echo "             out/preview/index.html, from the sample data, no AWS (seconds)"
	@echo "make preview-check  the same emails in headless Chromium at 600 and 375 px: overflow, alt, call to"
	@echo "             action on the first mobile screen, text under 12 px, console errors (Debian's chromium)"
	@echo "make test   ruff, mypy, cfn-lint and pytest"
	@echo "make test-fast  the unit tests but the slow and exhaustive cases: the inner loop (about 5 s)"
	@echo "make schemas  the JSON Schema of every store event, from the models, into events/schemas/"
	@echo "make check-emails  SpamAssassin (when installed) scores the demo's emails; fails above 2.0"
	@echo "make faults  crash points, 30 %/60 % throttling, lost Send events, refused records, forged SES events, fuzzing (about 10 min; FULL=1 the whole matrix)"
	@echo "make build  sam build (no Docker needed)"
	@echo "make deploy [GUIDED=1]  sam deploy: guided the first time (docs/operations.md, First deploy)"
	@echo "make smoke STACK=<name> [REGION=...] [TO=<address>]  a deployed stack's smoke test: one test customer's"
	@echo "             cart reminder (to SES's mailbox simulator unless TO), its decision and SES message id"
	@echo "make report  a simulated day with an A/B experiment on the local stack, and its report"
	@echo "make report DELIVERIES_TABLE=... EXPERIMENTS_TABLE=... [REGION=...] [SINCE=2026-11-01]"
	@echo "             the same report of a deployed stack's tables (the stack's outputs name them)"
	@echo "make export-customer ID=<customer_id> [STACK=<name> REGION=<region>]  everything stored about one"
	@echo "             customer, as JSON (a subject access request): of a deployed stack, or without STACK of"
	@echo "             the local stack after the sample day"
	@echo "make redrive QUEUE=<dead-letter queue or trigger> [STACK=<name> REGION=<region>] [DRY_RUN=1]  list a"
	@echo "             dead-letter queue (counts, reasons; never a body), then move its messages back to their queue;"
	@echo "             without STACK, on the local stack after the sample day (docs/redrive.md)"
	@echo "make send-test TO=<address> TRIGGER=<trigger> SEGMENT=<segment> LOCALE=<locale> [STEP=n] [VARIANT=<id>"
	@echo "             [EXPERIMENT=<id>]] [STACK=<name> REGION=<region>]  one [TEST] email from sample data, as the"
	@echo "             segment's customers get it: through the stack's SES, or without STACK into out/outbox/"
	@echo "make segments-validate [FILE=sample_data/segments.json]  check a segments file; which sample customers"
	@echo "             each segment takes"
	@echo "make segments-load FILE=<file> STACK=<name> [REGION=<region>] [APPLY=1] [PRUNE=1]  the file against the"
	@echo "             stack's Segments table: added, changed, removed; written only with APPLY=1, rows not in the"
	@echo "             file deleted only with PRUNE=1"
	@echo "make experiments-validate [FILE=sample_data/experiments.json]  check an experiments file, every"
	@echo "             variant's subject rendered for the sample emails"
	@echo "make experiments-load FILE=<file> STACK=<name> [REGION=<region>] [APPLY=1] [PRUNE=1]  the same, for the"
	@echo "             Experiments table"
	@echo "make bench  one table, measured side by side: render to bytes, handler CPU; calls, units, CPU against a real socket,"
	@echo "             Lambda time and cost in a busy store, a quiet one and a cold batch; cold start, import as shipped"
	@echo "             (about 3 min; the first run pip-installs the layer for this Python into out/bench-layer/)"
	@echo "make reengagement [CUSTOMERS=n] [SEND=0]  one scheduled re-engagement run on the local stack, on the"
	@echo "             sample day's clock, with a progress bar; SEND=0 publishes the win-backs without sending them"
	@echo "             (CUSTOMERS=2000: about 1 min; CUSTOMERS=20000: about 5 min on 2 cores)"
	@echo "make bench-reengagement  the run over 100,000 customers against a naive sequential baseline"
	@echo "make recs-eval [FILE=baskets.csv]  recommendations measured offline: hit rate, precision, coverage,"
	@echo "             best-seller share of each ranking on order history split by time (without FILE: a"
	@echo "             seeded synthetic store; SWEEP=1 more rankings)"

$(VENV)/.installed: requirements-dev.txt layers/nudge/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

# Translations: the templates are written in English; each language's copy is its
# templates/locale/<lang>/LC_MESSAGES/messages.po. Underscore folders (_layouts, _partials) are
# scanned too: pybabel skips them unless told otherwise.
LOCALE_DIR := templates/locale
i18n-extract: $(VENV)/.installed
	$(VENV)/bin/pybabel -q extract -F babel.cfg --ignore-dirs='.*' --no-location --omit-header \
		--sort-output -o $(LOCALE_DIR)/messages.pot templates

i18n-update: i18n-extract
	$(VENV)/bin/pybabel -q update -i $(LOCALE_DIR)/messages.pot -d $(LOCALE_DIR) \
		--ignore-obsolete

i18n-compile: $(VENV)/.installed
	$(VENV)/bin/pybabel compile --statistics -d $(LOCALE_DIR)

demo: $(VENV)/.installed
	PYTHONPATH=layers/nudge $(PY) -m local_stack.cli.demo

# The preview gallery for marketers (docs/templates.md): every email as a send renders it, from the
# sample data and with no AWS; preview-check opens each in headless Chromium (Debian's chromium).
preview: $(VENV)/.installed
	PYTHONPATH=layers/nudge $(PY) -m preview --out out/preview

preview-check: preview
	PYTHONPATH=layers/nudge $(PY) -m preview check --out out/preview

# The report: of a simulated day on the local stack, or (with the table names) of a deployed stack.
report: $(VENV)/.installed
ifdef DELIVERIES_TABLE
	$(PY) -m reporting --deliveries-table $(DELIVERIES_TABLE) --experiments-table $(EXPERIMENTS_TABLE) \
		$(if $(REGION),--region $(REGION)) $(if $(SINCE),--since $(SINCE))
else
	PYTHONPATH=layers/nudge $(PY) -m local_stack.cli.measurement_day
endif

# A store's developers check their events against these; tests/contract/ fails while one is stale.
schemas: $(VENV)/.installed
	PYTHONPATH=layers/nudge $(PY) -m local_stack.cli.event_schemas

# The subject-access export of one customer: of a deployed stack, or of the local stack's sample day.
export-customer: $(VENV)/.installed
ifndef ID
	$(error ID is required: make export-customer ID=<customer_id> [STACK=<name> REGION=<region>])
endif
	@PYTHONPATH=layers/nudge $(PY) -m privacy export-customer --id $(ID) \
		$(if $(STACK),--stack $(STACK)) $(if $(REGION),--region $(REGION))

# A dead-letter queue's messages back to their queue, after the cause is fixed (docs/redrive.md): of a
# deployed stack, or without STACK of the local stack's sample day. DRY_RUN=1 lists only.
redrive: $(VENV)/.installed
ifndef QUEUE
	$(error QUEUE is required: make redrive QUEUE=<dead-letter queue or trigger> [STACK=<name> REGION=<region>] [DRY_RUN=1])
endif
	@PYTHONPATH=layers/nudge $(PY) -m operations redrive --queue $(QUEUE) \
		$(if $(STACK),--stack $(STACK)) $(if $(REGION),--region $(REGION)) \
		$(if $(filter 1,$(DRY_RUN)),--dry-run) $(if $(RATE),--max-per-second $(RATE))

# A deployed stack's smoke test: one test customer's cart reminder, its decision and SES message id.
.PHONY: smoke
smoke: $(VENV)/.installed
ifndef STACK
	$(error STACK is required: make smoke STACK=<name> [REGION=<region>] [TO=<address>])
endif
	@$(PY) -m smoke --stack $(STACK) $(if $(REGION),--region $(REGION)) $(if $(TO),--to $(TO))

# A marketer's tools (docs/marketing.md): one test email, and segments and experiments files checked and
# loaded into a deployed stack's tables.
SEND_TEST_USAGE := make send-test TO=<address> TRIGGER=<trigger> SEGMENT=<segment> LOCALE=<locale> [STEP=n] \
	[VARIANT=<id> [EXPERIMENT=<id>]] [STACK=<name> REGION=<region>]
send-test: $(VENV)/.installed
	$(foreach name,TO TRIGGER SEGMENT LOCALE,$(if $($(name)),,$(error $(name) is required: $(SEND_TEST_USAGE))))
	@PYTHONPATH=layers/nudge $(PY) -m marketing send-test --to '$(TO)' --trigger '$(TRIGGER)' \
		--segment '$(SEGMENT)' --locale '$(LOCALE)' $(if $(STEP),--step '$(STEP)') \
		$(if $(VARIANT),--variant '$(VARIANT)') $(if $(EXPERIMENT),--experiment '$(EXPERIMENT)') \
		$(if $(STACK),--stack '$(STACK)') $(if $(REGION),--region '$(REGION)')

segments-validate experiments-validate: $(VENV)/.installed
	@PYTHONPATH=layers/nudge $(PY) -m marketing $@ $(if $(FILE),--file '$(FILE)')

# Without STACK there is nothing to load into: the local stack lives only while a command runs (make demo
# seeds it from sample_data/). Without APPLY=1 the difference is printed and nothing is written.
segments-load experiments-load: $(VENV)/.installed
	$(if $(FILE),,$(error FILE is required: make $@ FILE=<file> STACK=<name> [REGION=<region>] [APPLY=1] [PRUNE=1]))
	$(if $(STACK),,$(error STACK is required: the local stack lives only while a command runs; \
		make $(subst -load,-validate,$@) FILE=$(FILE) checks the file without one))
	@PYTHONPATH=layers/nudge $(PY) -m marketing $@ --file '$(FILE)' --stack '$(STACK)' \
		$(if $(REGION),--region '$(REGION)') $(if $(filter 1,$(APPLY)),--apply) $(if $(filter 1,$(PRUNE)),--prune)

# Scores the emails the last `make demo` wrote (running it first if there are none).
check-emails: $(VENV)/.installed
	@test -d out/outbox || $(MAKE) demo
	PYTHONPATH=layers/nudge $(PY) -m local_stack.cli.check_emails

# The reliability table: every crash point, throttling, fuzzing (make test runs the same, smaller).
faults: $(VENV)/.installed
	PYTHONPATH=layers/nudge $(PY) -m local_stack.faults $(if $(FULL),--full)

CUSTOMERS ?= 0
SEND ?= 1
reengagement: $(VENV)/.installed
	PYTHONPATH=layers/nudge $(PY) -m local_stack.cli.reengagement --customers $(CUSTOMERS) \
		$(if $(filter 0,$(SEND)),--no-send)

test: lint typecheck template-lint pytest

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(VENV)/.installed
	$(VENV)/bin/mypy

template-lint: $(VENV)/.installed
	$(VENV)/bin/cfn-lint template.yaml

# One pytest worker per core, at most 4 (each builds its own local stack, about 400 MB); a test file's
# tests stay in one worker, so its module fixtures are built once.
pytest: $(VENV)/.installed
	$(PY) -m pytest -q --numprocesses=auto --maxprocesses=4 --dist loadfile

# The inner loop: the unit tests, without the local stack, the tools' tests or the exhaustive cases.
test-fast: $(VENV)/.installed
	$(PY) -m pytest -q -m "not slow" tests/unit

# aws-sam-cli pins its own boto3 and pydantic, so it lives in a virtualenv of its own.
$(SAM_VENV)/.installed:
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install --quiet --upgrade pip
	$(SAM_VENV)/bin/pip install --quiet aws-sam-cli==$(SAM_CLI_VERSION)
	touch $@

build: $(SAM_VENV)/.installed $(VENV)/.installed
	$(SAM) validate --lint
	$(SAM) build
	PYTHONPATH=layers/nudge $(PY) -m local_stack.bench.layer_report

# Guided while samconfig.toml holds no parameter_overrides (the first deploy saves its answers there),
# plain `sam deploy` after, which asks only to confirm the change set; GUIDED=1 asks everything again.
# What to answer: docs/operations.md, "First deploy".
GUIDED ?= $(if $(shell grep -s '^parameter_overrides' samconfig.toml),0,1)
deploy: build
	$(SAM) deploy $(if $(filter 1,$(GUIDED)),--guided)

bench: $(VENV)/.installed
	PYTHONPATH=layers/nudge $(PY) -m local_stack.bench

bench-reengagement: $(VENV)/.installed
	PYTHONPATH=layers/nudge $(PY) -m local_stack.bench.reengagement

# The catalog function's learning and the send path's ranking, on orders split by time (docs/personalization.md).
recs-eval: $(VENV)/.installed
	PYTHONPATH=layers/nudge $(PY) -m local_stack.cli.recs_eval $(if $(FILE),--file $(FILE)) $(if $(SWEEP),--sweep)

clean:
	rm -rf $(VENV) $(SAM_VENV) .aws-sam out .pytest_cache .mypy_cache .ruff_cache
