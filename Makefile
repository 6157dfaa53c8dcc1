# The README's two commands: `make demo` (main job end to end) and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: setup test demo
setup:
	bash scripts/setup_venv.sh

test: setup
	$(PY) -m pytest -q test

demo: setup
	$(PY) -m interhand_ros.demo
