# MBT: the two commands are `make run` and `make test`; everything else is a helper.
SHELL := /bin/bash
PY := .venv/bin/python

.PHONY: setup run stop test test-clock lint migrate migrate-status bench report backup restore backup-info

setup:  ## install everything MBT needs (idempotent)
	@scripts/setup.sh

run: setup  ## the whole stack on this machine; Ctrl-C stops it
	@$(PY) -m mbtctl run

stop:  ## stop everything `make run` started
	@$(PY) -m mbtctl stop

test: setup  ## lint and the whole test suite against a fresh, real stack
	@scripts/test.sh

test-clock: setup  ## the tests marked `clock` at a matrix of instants (weekend, holiday, early close, DST, 23:30 ET)
	@scripts/test_clock.sh

lint: setup  ## sqlfluff (SQL) and ruff (Python); plpgsql_check runs in the test suite
	@.venv/bin/sqlfluff lint sql/
	@.venv/bin/ruff check .

migrate: setup  ## apply pending migrations, then re-apply functions and policies
	@$(PY) -m mbtctl migrate

migrate-status: setup  ## list applied and pending migrations
	@$(PY) -m mbtctl migrate-status

backup: setup  ## pgBackRest backup of the local cluster into .data/backup (TYPE=full|diff|incr; default incr, the first is full)
	@$(PY) -m mbtctl.backup backup $(if $(TYPE),--type $(TYPE))

restore: setup  ## restore the local cluster (make stop first): to the latest archived WAL, or TARGET_TIME='2026-12-07 15:30:00+00'
	@$(PY) -m mbtctl.backup restore $(if $(TARGET_TIME),--target-time '$(TARGET_TIME)')

backup-info: setup  ## the backups in the repository and the archived WAL
	@$(PY) -m mbtctl.backup info

bench: setup  ## the performance report (bench/report.md), durable and unsafe (DURABILITY=durable|unsafe, QUICK=1)
	@$(PY) -m bench $(if $(DURABILITY),--durability $(DURABILITY)) $(if $(QUICK),--quick)

report: setup  ## the daily fill-quality report in reports/out (DATE=YYYY-MM-DD; a scripted simulated day if nothing traded)
	@$(PY) -m reports.fill_quality $(if $(DATE),--date $(DATE))
