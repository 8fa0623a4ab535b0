# The README's two commands: `make demo` (run the main job) and `make test` (pass the tests).
# Each builds the virtual environment in .venv from nothing if it is missing.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: demo test lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed-run: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --disable-pip-version-check -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $@ $(VENV)/.installed-run

demo: $(VENV)/.installed-run
	$(BIN)/tracker demo

tests/js/node_modules/axe-core/axe.min.js: tests/js/package.json
	npm install --prefix tests/js --no-audit --no-fund --silent
	touch $@

test: $(VENV)/.installed-test tests/js/node_modules/axe-core/axe.min.js
	@test -x /usr/bin/chromium || { echo "Browser tests need Debian's Chromium: apt-get install chromium"; exit 1; }
	@test -x /usr/sbin/nginx || { echo "The production set-up test needs Debian's nginx: apt-get install nginx"; exit 1; }
	@command -v soffice >/dev/null || { echo "The sheet-conversion tests need LibreOffice: apt-get install libreoffice-calc-nogui"; exit 1; }
	@command -v pdftoppm >/dev/null || { echo "The scorecard picture tests need pdftoppm: apt-get install poppler-utils"; exit 1; }
	@fc-list | grep -q "Liberation Sans" || { echo "The ledger's print-layout test measures pages in Liberation Sans: apt-get install fonts-liberation2"; exit 1; }
	@test -e /usr/lib/libreoffice/program/libswlo.so || { echo "The official-document tests need LibreOffice Writer: apt-get install libreoffice-writer-nogui"; exit 1; }
	$(BIN)/python -m pytest -q -n 2 --dist loadscope

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/mypy tracker notifications flows

clean:
	rm -rf $(VENV) var
