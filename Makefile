# Two commands on a fresh clone: `make run` and `make test`.
UV := ./scripts/uv

.PHONY: run test lint sync migrate bench screenshots

run:
	$(UV) sync --frozen --no-dev --quiet
	$(UV) run --frozen --no-dev nabat serve

sync:
	$(UV) sync --frozen --quiet

lint: sync
	$(UV) run --frozen ruff check .
	$(UV) run --frozen ruff format --check .
	$(UV) run --frozen mypy

test: lint
	./scripts/ensure-postgres
	./scripts/ensure-chromium
	$(UV) run --frozen pytest -n 2

migrate:
	$(UV) run --frozen --no-dev nabat migrate

# Writes docs/benchmarks.md (about 10 minutes on 2 cores). A smoke run with small counts:
# make bench BENCH_ARGS=--quick   (its report goes to a temporary file)
bench: sync
	$(UV) sync --frozen --group bench --quiet
	$(UV) run --frozen --group bench python -m bench.run $(BENCH_ARGS)

# The console's main pages in Russian and English, into docs/screenshots/ (Chromium
# from Debian's package, driven by Playwright as in the tests).
screenshots: sync
	./scripts/ensure-chromium
	$(UV) run --frozen python -m tests.web.screenshots docs/screenshots
