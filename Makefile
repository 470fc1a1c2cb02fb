# The two commands: `make run` and `make test`. Only Python 3.11 and make are needed; uv is installed on first use.
UV := $(or $(shell command -v uv 2>/dev/null),$(CURDIR)/.tools/bin/uv)
export UV_PYTHON_DOWNLOADS := never

.PHONY: run key test bench bench-history lint fmt migrate install

run: install ## start PostgreSQL and Redis (embedded unless DATABASE_URL/REDIS_URL), migrate, start every service
	$(UV) run --locked python -m kampungkb_local run

key: $(UV) ## while `make run` is up, print a new API key: make key ROLE=kabupaten SCOPE=99.01 (default admin, 00)
	$(UV) run --locked python -m kampungkb_local key --role $(or $(ROLE),admin) --scope $(or $(SCOPE),00)

test: install ## the whole suite against real PostgreSQL and Redis; a part of it: make test ARGS="tests/registry_api -q"
	$(UV) run --locked pytest $(ARGS)

bench: install ## benchmarks; they print figures; some of them: make bench ARGS="put classifier"
	$(UV) run --locked python bench/run.py $(ARGS)

bench-history: install ## years of national history against an empty database (not in `make bench`; a cached build, long the first time): ARGS="--scale 0.25 --months 36"
	$(UV) run --locked python bench/bench_history.py $(ARGS)

lint: install ## ruff and mypy
	$(UV) run --locked ruff check . && $(UV) run --locked ruff format --check . && $(UV) run --locked mypy shared/src services/*/src

fmt: install ## format the code
	$(UV) run --locked ruff format . && $(UV) run --locked ruff check --fix .

migrate: install ## apply migrations to DATABASE_URL
	$(UV) run --locked registry-api migrate

install: $(UV) ## the locked dependencies of every workspace member, or of one: make install PACKAGE=classifier
	$(UV) sync --locked $(if $(PACKAGE),--package $(PACKAGE),--all-packages)

$(CURDIR)/.tools/bin/uv:
	python3 -m venv .tools && .tools/bin/python -m pip install --quiet --disable-pip-version-check uv==0.13.9
