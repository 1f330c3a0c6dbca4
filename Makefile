# One entry point for every task. `make run` starts the product, `make test` runs every test.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
LAKE ?= ./data/lake
PORT ?= 8501

.PHONY: run test lint check bench demo clean browser oidc java

$(BIN)/.installed: requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements-dev.txt
	touch $@

run: $(BIN)/.installed
	$(BIN)/python -m invlog demo --lake $(LAKE) --if-empty
	$(BIN)/python -m invlog dashboard --lake $(LAKE) --port $(PORT)

test: check browser oidc java
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Lint and types: ruff on everything, mypy strict on recorder/ and invlog/lake (pyproject.toml).
check: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/mypy

# The browser tests drive Debian's chromium; install it when it is missing (needs root, as in CI).
browser:
	@command -v chromium >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq chromium)

# The Spark tests (tests/warehouse/test_spark.py) run pyspark in local mode, which needs a Java 17+ runtime.
java:
	@command -v java >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq openjdk-17-jre-headless)

# The login tests run a real OIDC provider (oauth2-mock-server from npm) on loopback.
oidc: tests/oidc/node_modules/.installed
tests/oidc/node_modules/.installed: tests/oidc/package.json tests/oidc/package-lock.json
	@command -v npm >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq nodejs npm)
	npm ci --prefix tests/oidc --no-audit --no-fund --loglevel=error
	touch $@

lint: $(BIN)/.installed
	$(BIN)/ruff check .

bench: $(BIN)/.installed
	$(BIN)/python -m bench.record_overhead
	$(BIN)/python -m bench.write_throughput

demo: $(BIN)/.installed
	$(BIN)/python -m invlog demo --lake $(LAKE)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache test-artifacts tests/oidc/node_modules
