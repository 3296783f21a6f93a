.PHONY: check test bench bench-quick demo lint

# What CI runs (.ci/run executes README's test command: install + the whole suite).
check:
	bash .ci/run

test:
	python -m pytest -q

bench:
	python -m benchmarks

bench-quick:
	python -m benchmarks --quick

demo:
	liqtui --demo

lint:  # pip install -e ".[dev]"
	ruff check liqtui tests benchmarks && ruff format --check liqtui tests benchmarks && mypy
