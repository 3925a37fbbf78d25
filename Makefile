# One entry point for the course. `make book` builds and serves the website; `make test` runs
# every check CI runs. Both set up everything they need on a machine with only Python 3 and pip.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PORT   ?= 8000
PAGES  ?=
export PYTHONHASHSEED := 0
export TQDM_DISABLE := 1

.PHONY: book test setup vendor chromium notebooks site serve lint unit nbval browser clean

## book: set up, build the website from the stored notebook outputs, and serve it.
##       `make book EXECUTE=1` re-executes every notebook first.
book: setup vendor
ifeq ($(EXECUTE),1)
	$(MAKE) notebooks
endif
	$(MAKE) site
	@echo "Website built in _build/html. Open http://127.0.0.1:$(PORT)/ (Ctrl-C stops the server)."
	$(BIN)/python -m http.server $(PORT) --bind 127.0.0.1 --directory _build/html

## test: everything CI checks: the linter, unit tests and pairing, nbval on every notebook (each
##       notebook is executed once, in the reproducible CPU mode its setup cell turns on), the
##       site build with -W, and the browser tests.
test: setup vendor chromium
	$(MAKE) lint
	$(BIN)/python -m pytest -m "not browser" tests
	$(MAKE) nbval
	$(MAKE) site
	$(BIN)/python -m pytest -m browser tests/browser

$(VENV)/.installed: pyproject.toml requirements-lock.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# torch first, pinned, so pip never resolves a multi-GB CUDA build on a CPU machine.
	$(BIN)/python -m pip install --quiet -c requirements-lock.txt torch
	$(BIN)/python -m pip install --quiet -c requirements-lock.txt -e ".[test]"
	touch $@

setup: $(VENV)/.installed

vendor: setup
	$(BIN)/python scripts/vendor_js.py

chromium:
	@bash scripts/install_chromium.sh

## notebooks: regenerate (and execute) notebooks/ from book/; `make notebooks PAGES=book/x.md`.
notebooks: setup
	$(BIN)/python scripts/notebooks.py $(PAGES)

site: setup vendor
	rm -rf _build
	$(BIN)/python scripts/notebooks.py --seed-cache
	$(BIN)/jupyter-book build . -W -n --keep-going

serve:
	$(BIN)/python -m http.server $(PORT) --bind 127.0.0.1 --directory _build/html

lint: setup
	$(BIN)/ruff check .

unit: setup
	$(BIN)/python -m pytest -m "not browser" tests

nbval: setup
	$(BIN)/python -m pytest --nbval --nbval-current-env --nbval-sanitize-with nbval_sanitize.cfg \
		-p no:cacheprovider notebooks

browser: setup
	$(BIN)/python -m pytest -m browser tests/browser

clean:
	rm -rf _build dist .pytest_cache
