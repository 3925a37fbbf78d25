# One entry point for the course. `make book` builds and serves the website; `make test` runs
# every check CI runs. Both set up everything they need on a machine with only Python 3 and pip.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PORT   ?= 8000
PAGES  ?=
export PYTHONHASHSEED := 0
export TQDM_DISABLE := 1

.PHONY: book test setup vendor chromium notebooks site serve lint unit nbval browser oldest \
        release clean

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
	$(MAKE) oldest

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
	$(BIN)/check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yml
	$(BIN)/zizmor --offline --no-progress --config .github/zizmor.yml .github/workflows

unit: setup
	$(BIN)/python -m pytest -m "not browser" tests

nbval: setup
	$(BIN)/python -m pytest --nbval --nbval-current-env --nbval-sanitize-with nbval_sanitize.cfg \
		-p no:cacheprovider notebooks

browser: setup
	$(BIN)/python -m pytest -m browser tests/browser

## oldest: the unit tests on the oldest torch the package admits (pyproject's lower bound) and
##         numpy 1.x, in .venv-oldest; everything else at the lock's versions. PyPI serves only
##         CUDA builds of old torch (about 5 GB with its CUDA libraries; they run on the CPU).
OLDEST_TORCH := 2.3.0
OLDEST := .venv-oldest
$(OLDEST)/.installed: pyproject.toml requirements-lock.txt
	$(PYTHON) -m venv $(OLDEST)
	$(OLDEST)/bin/python -m pip install --quiet --upgrade pip
	grep -v -E '^(torch|numpy)==' requirements-lock.txt > $(OLDEST)/constraints.txt
	$(OLDEST)/bin/python -m pip install --quiet -c $(OLDEST)/constraints.txt \
		"torch==$(OLDEST_TORCH)" "numpy<2" -e ".[test]"
	touch $@

oldest: $(OLDEST)/.installed
	$(OLDEST)/bin/python -c "import torch; assert torch.__version__.startswith('$(OLDEST_TORCH)'), torch.__version__"
	$(OLDEST)/bin/python -m pytest -q -p no:cacheprovider -m "not browser and not slow" tests

## release: `make release VERSION=0.3.0`: set the version, close the changelog, commit and tag.
release: setup
	$(BIN)/python scripts/release.py $(VERSION)

clean:
	rm -rf _build dist .pytest_cache
