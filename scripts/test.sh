#!/usr/bin/env bash
# make test: linters, then the whole pytest suite (which starts its own real stack on free ports).
set -uo pipefail
cd "$(dirname "$0")/.."
status=0
echo "== sqlfluff"; .venv/bin/sqlfluff lint sql/ || status=1
echo "== ruff"; .venv/bin/ruff check . || status=1
echo "== pytest"
.venv/bin/python -m pytest "$@"
rc=$?
if [ $rc -eq 5 ]; then
    echo "pytest collected no tests"; rc=1
fi
[ $rc -ne 0 ] && status=$rc
exit $status
