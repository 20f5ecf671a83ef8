# Two commands on a fresh clone: `make run` and `make test`.
UV := ./scripts/uv

.PHONY: run test lint sync migrate

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
	$(UV) run --frozen pytest

migrate:
	$(UV) run --frozen --no-dev nabat migrate
