#!/usr/bin/env bash
# make test: linters, then the whole pytest suite (which starts its own real stack on free ports).
set -uo pipefail
cd "$(dirname "$0")/.."
status=0
echo "== sqlfluff"; .venv/bin/sqlfluff lint sql/ || status=1
echo "== ruff"; .venv/bin/ruff check . || status=1
echo "== pytest"
# MBT_CLOCK=<instant>: the suite and the stack it starts live at that instant (mbtctl/clock.py)
if [ -n "${MBT_CLOCK:-}" ]; then
    clock_env=$(.venv/bin/python -m mbtctl.clock) || exit 2
    eval "$clock_env"
fi
.venv/bin/python -m pytest "$@"
rc=$?
if [ $rc -eq 5 ]; then
    echo "pytest collected no tests"; rc=1
fi
[ $rc -ne 0 ] && status=$rc
exit $status
