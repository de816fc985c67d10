# Two commands after cloning: `make run` and `make test`. Everything else is optional.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
## axe-core for the dashboard's accessibility test, at the version tests/browser/package-lock.json pins
AXE    := tests/browser/node_modules/axe-core/axe.min.js
## where `make run` listens: make run PORT=8080 (HOST=0.0.0.0 to be reachable from elsewhere);
## without them PTA_HOST/PTA_PORT from the environment or .env decide, else 127.0.0.1:8000
HOST   ?=
PORT   ?=

.PHONY: install run test lint check bench reliability deploy-test clean

install: $(STAMP) $(AXE)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# Without npm the accessibility test is skipped (and fails under .ci/run, which installs npm).
$(AXE): tests/browser/package.json tests/browser/package-lock.json
	@if command -v npm >/dev/null; then \
	  npm ci --prefix tests/browser --no-audit --no-fund --silent && touch $(AXE); \
	else \
	  echo "npm not found: the dashboard's axe-core test will be skipped (apt-get install -y npm)"; \
	fi

## Serve on the embedded SQLite database (demo data loaded on first start)
run: $(STAMP)
	$(BIN)/pta db upgrade
	$(strip $(if $(HOST),PTA_HOST=$(HOST)) $(if $(PORT),PTA_PORT=$(PORT)) $(BIN)/pta demo load --if-empty)
	$(strip $(BIN)/pta serve $(if $(HOST),--host $(HOST)) $(if $(PORT),--port $(PORT)))

## The whole test suite (SQLite by default; PostgreSQL when TEST_DATABASE_URL is set)
test: install
	$(BIN)/python -m pytest $(ARGS)

## Static checks: ruff (its security rules included), mypy strict, bandit (medium severity and up)
lint: install
	$(BIN)/ruff check app tests migrations bench deploy_test
	$(BIN)/mypy
	$(BIN)/bandit -r app -ll -q

## Reliability and security proofs alone, with a deeper contract fuzzing (part of `make test`
## too): races, database outage, bad input, logs, schemathesis. PostgreSQL via TEST_DATABASE_URL.
reliability: install
	PTA_FUZZ_EXAMPLES=$${PTA_FUZZ_EXAMPLES:-100} $(BIN)/python -m pytest -m reliability $(ARGS)

## Benchmark against PostgreSQL's own ceiling (bench/README.md): make bench [ARGS=--quick]
bench: install
	command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)
	$(BIN)/python -m bench.run $(ARGS)

## The deployment guide, executed (docs/deployment.md §11): primary + streaming replica +
## PgBouncer + two replicas + HAProxy on 127.0.0.1, a killed replica under load, a restore
## drill; ≈ 4 min. ARGS=--update-docs writes the table into the guide; ARGS=--keep keeps files.
deploy-test: install
	command -v haproxy >/dev/null && command -v pgbouncer >/dev/null || \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq haproxy pgbouncer >/dev/null)
	$(BIN)/python -m deploy_test $(ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache tests/browser/node_modules
