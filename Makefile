# Two commands on a fresh machine: `make demo` and `make test`. Both create .venv first.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
DEMO_DIR ?= demo
# pytest options, e.g. `make test PYTEST_ARGS="-m 'not slow'"`
PYTEST_ARGS ?=

.PHONY: setup test demo clean

setup: $(VENV)/.installed

$(VENV)/.installed: requirements.txt
	@echo "==> creating $(VENV) with $(PYTHON) and installing requirements.txt (a few minutes the first time)"
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --disable-pip-version-check -q -r requirements.txt
	touch $@

test: setup
	TF_CPP_MIN_LOG_LEVEL=2 $(PY) -m pytest tests $(PYTEST_ARGS)

clean:
	rm -rf $(DEMO_DIR) .pytest_cache
