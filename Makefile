# ActionFlow. The two Quick start commands are `make run` and `make test`.
.PHONY: setup run test lint bench clean

setup:
	@./scripts/setup.sh

run: setup
	.venv/bin/actionflow run --demo

test: setup
	.venv/bin/python -m pytest

lint: setup
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy

bench: setup
	.venv/bin/python -m bench

clean:
	rm -rf .venv .pytest_cache .mypy_cache .ruff_cache
