# make report  -> creates .venv on first use, then regenerates results/ (REPORT.md, report.html)
# make test    -> creates .venv on first use, then runs the test suite
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed

.PHONY: install test report bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest -q

report: $(STAMP)
	@$(BIN)/linclf data verify mnist >/dev/null 2>&1 || $(BIN)/linclf data fetch mnist
	@$(BIN)/linclf data verify cifar10 >/dev/null 2>&1 || $(BIN)/linclf data fetch cifar10
	$(BIN)/linclf report

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_tdt4265.py

clean:
	rm -rf $(VENV) build *.egg-info
