# Two commands set everything up on a fresh clone:
#   make run   - the HTTP service on an embedded SQLite ledger with demo data
#   make test  - the whole test suite
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp

# PostgreSQL for the tests; when it is unreachable the PostgreSQL tests skip
# (with their reason), except under CI=true where that is a failure.
export CUSTODY_TEST_DATABASE_URL ?= postgresql://postgres@127.0.0.1:5432/test

# The embedded demo ledger. These passphrases protect demo keys only; set
# your own in the environment (or .env) for anything real.
DEMO_DB  ?= sqlite:///var/custody.db
export CUSTODY_LOG_KEY_PASSPHRASE ?= demo-log-key-passphrase
export CUSTODY_KEY_PASSPHRASE ?= demo-key-passphrase

.PHONY: install test run lint typecheck bench bench-http kclverify clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,dev]'
	@touch $(STAMP)

install: $(STAMP)

test: $(STAMP)
	scripts/install-test-deps.sh
	$(PY) -m pytest -n 2 --dist loadgroup $(PYTEST_ARGS)

# The demo creates the ledger itself when there is none, so genesis and the
# log's recorded times follow its simulated timeline; init then only
# migrates (it is idempotent) and status shows what is there. Then the URL
# and a fresh demo API token per role, and the server in the foreground
# (Ctrl-C stops it). HOST, PORT and WORKERS can be overridden:
#   make run PORT=8080 WORKERS=2
HOST    ?= 127.0.0.1
PORT    ?= 8000
WORKERS ?= 1
run: $(STAMP)
	$(VENV)/bin/custody demo --db $(DEMO_DB) --if-empty
	$(VENV)/bin/custody init --db $(DEMO_DB)
	$(VENV)/bin/custody status --db $(DEMO_DB)
	$(VENV)/bin/custody token demo --db $(DEMO_DB) --url http://$(HOST):$(PORT)
	exec $(VENV)/bin/custody serve --db $(DEMO_DB) --host $(HOST) --port $(PORT) --workers $(WORKERS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(STAMP)
	$(VENV)/bin/mypy

bench: $(STAMP)
	$(VENV)/bin/custody bench append --n 20000 --batch 500
	$(VENV)/bin/custody bench verify

# The HTTP benchmark (docs/benchmarks.md): wrk and a fresh PostgreSQL database.
bench-http: $(STAMP)
	bench/install-tools.sh
	$(VENV)/bin/custody bench http

# kclverify, the Go verifier of export bundles (kclverify/README.md): Debian's
# Go toolchain and x/text sources, GOPATH mode, no network. Writes build/kclverify.
kclverify:
	scripts/install-test-deps.sh
	cd kclverify && GO111MODULE=off GOPATH=/usr/share/gocode GOFLAGS= CGO_ENABLED=0 go build -trimpath -o ../build/kclverify .

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache .hypothesis
