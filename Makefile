# Two entry points for a newcomer: `make demo` (the tour on the local provider) and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
DEPS := requirements/dev.txt requirements/constraints.txt pyproject.toml $(wildcard providers/*/pyproject.toml)

.PHONY: setup demo test lint bench providers-doc

setup: $(STAMP)

$(STAMP): $(DEPS)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check --upgrade "pip>=24"
	$(PY) -m pip install -q --disable-pip-version-check -c requirements/constraints.txt -r requirements/dev.txt
	touch $(STAMP)

demo: setup
	$(VENV)/bin/cloudkit demo

# pytest exits 5 when it collects nothing; that is not a failure of the code under test.
test: setup
	$(PY) -m pytest; rc=$$?; if [ $$rc = 5 ]; then echo "no tests collected"; exit 0; fi; exit $$rc

lint: setup
	$(VENV)/bin/ruff check src providers contrib tests bench
	$(VENV)/bin/mypy

# Every benchmark in turn (several minutes; each script's --help shows its options and quick modes).
bench: setup
	for script in bench/bench_*.py; do echo "== $$script"; $(PY) $$script || exit 1; done

# Regenerate the provider matrix in docs/providers.md from the code.
MATRIX_PROVIDERS := local aws libcloud:s3 libcloud:azure_blobs libcloud:powerdns libcloud:ec2
providers-doc: setup
	$(VENV)/bin/python -c "import re,subprocess,sys; p='docs/providers.md'; s=open(p).read(); i=s.index('| operation |'); t=subprocess.run(['$(VENV)/bin/cloudkit','--set','region=us-east-1','capabilities',*'$(MATRIX_PROVIDERS)'.split(),'--markdown'],capture_output=True,text=True,check=True).stdout; open(p,'w').write(s[:i]+t)"

# Mutation testing with mutmut, area by area, with a score per area (see docs/testing.md). The quick areas
# by default; AREAS="validation plugins" picks areas, MUTATION_ARGS=--all runs every area (the full run, slow).
# Not part of `make test` or CI's test command.
.PHONY: mutation
mutation: setup
	$(PY) tools/mutation.py $(MUTATION_ARGS) $(AREAS)
