# One entry point for every task. `make run` starts the product, `make test` runs every test.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
LAKE ?= ./data/lake
PORT ?= 8501
OTLP_KEYS ?=
OTLP_PORT ?= 4318

.PHONY: run test lint check bench demo clean browser oidc java vendor-plotly

$(BIN)/.installed: requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements-dev.txt
	touch $@

# With OTLP_KEYS=keys.toml the OTLP receiver (invlog otlp, docs/otel.md) runs beside the dashboard.
run: $(BIN)/.installed
	$(BIN)/python -m invlog demo --lake $(LAKE) --if-empty
	@if [ -n "$(OTLP_KEYS)" ]; then $(BIN)/python -m invlog otlp --lake $(LAKE) --keys $(OTLP_KEYS) \
		--port $(OTLP_PORT) & fi; \
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

# The HTML report embeds Plotly's basic bundle (warehouse/assets); refresh it when plotly is upgraded
# (tests/warehouse/test_warehouse.py checks its version is the one plotly.py was built for).
vendor-plotly: $(BIN)/.installed
	v=$$($(BIN)/python -c "from plotly.offline.offline import get_plotlyjs_version as v; print(v())") && \
	cd /tmp && npm pack plotly.js-basic-dist-min@$$v --silent && tar xzf plotly.js-basic-dist-min-$$v.tgz && \
	cp package/plotly-basic.min.js $(CURDIR)/warehouse/assets/ && cp package/LICENSE $(CURDIR)/warehouse/assets/plotly-basic.LICENSE

lint: $(BIN)/.installed
	$(BIN)/ruff check .

bench: $(BIN)/.installed
	$(BIN)/python -m bench.record_overhead
	$(BIN)/python -m bench.write_throughput

demo: $(BIN)/.installed
	$(BIN)/python -m invlog demo --lake $(LAKE)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache test-artifacts tests/oidc/node_modules
