# Two commands for people: `make demo` and `make test`. Everything else here serves them.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
IDP_PORT ?= 8001

.PHONY: demo test lint db-stop bench bench-search bench-region bench-audit clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Tsunagi needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	$(BIN)/python -m compileall -q -x '/\.' .  # bytecode, so commands start without compiling (PYTHONDONTWRITEBYTECODE)
	@touch $@

demo: $(VENV)/.installed
	$(BIN)/python manage.py migrate --no-input
	$(BIN)/python manage.py generate_region --people 2000 --seed 1 --out .local/demo-region --force
	$(BIN)/python manage.py load_sample_data --base-url http://$(HOST):$(PORT)/fhir --region .local/demo-region
	$(BIN)/python manage.py reindex
	$(BIN)/python manage.py seed_demo_accounts --region .local/demo-region
	@echo
	@echo "Tsunagi is starting at http://$(HOST):$(PORT)/"
	@echo "  FHIR API:          http://$(HOST):$(PORT)/fhir"
	@echo "  CapabilityStatement: http://$(HOST):$(PORT)/fhir/metadata?_pretty=true"
	@echo "  Tokens:            README 'Using the FHIR API' (register_client, then /auth/token)"
	@echo "  Sample patients:   the links printed above (with a token)"
	@echo "  Sign in:           http://$(HOST):$(PORT)/ through the demo OpenID provider at http://127.0.0.1:$(IDP_PORT)/o"
	@echo "                     accounts hanako (resident), dr-sato, welfare-ito, steward-kato, admin-mori;"
	@echo "                     password tsunagi-demo (IDP_DEMO_PASSWORD)"
	@echo "  Apps for people:   README 'Apps that act for a person' (/auth/authorize); authorised apps on /apps/"
	@echo "Stop with Ctrl-C; 'make db-stop' stops the embedded database."
	@echo
	$(BIN)/python -m idp serve --port $(IDP_PORT) --redirect-uri http://$(HOST):$(PORT)/oidc/callback/ --redirect-uri http://localhost:$(PORT)/oidc/callback/ \
		>.local/idp.log 2>&1 & provider=$$!; trap 'kill $$provider 2>/dev/null' EXIT; \
	$(BIN)/gunicorn config.wsgi --bind $(HOST):$(PORT) --workers 2 --threads 4 --preload --access-logfile - \
		--access-logformat '%(h)s %(t)s "%(m)s %(U)s" %(s)s %(b)s %(M)sms'

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .
	$(BIN)/lint-imports

test: lint
	$(BIN)/pytest

bench: $(VENV)/.installed
	$(BIN)/python bench/fhir_api.py

bench-search: $(VENV)/.installed
	$(BIN)/python bench/search.py

bench-region: $(VENV)/.installed
	$(BIN)/python bench/generate_region.py

bench-audit: $(VENV)/.installed
	$(BIN)/python bench/audit_cost.py

db-stop: $(VENV)/.installed
	$(BIN)/python -m config.embedded_db stop

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
