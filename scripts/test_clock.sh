#!/usr/bin/env bash
# make test-clock: the tests marked `clock` (they depend on the day or the hour) at a matrix of instants,
# each run on a fresh stack living at that instant (MBT_CLOCK, mbtctl/clock.py). Extra arguments go to pytest.
# MBT_CLOCK_MATRIX="<instant> <instant> ..." replaces the matrix.
set -uo pipefail
cd "$(dirname "$0")/.."
default_matrix=(
    2026-12-12T16:00:00Z  # Saturday 11:00 New York: no session
    2026-12-14T13:00:00Z  # Monday 08:00 New York, before the open (the calendar day before is a Sunday)
    2026-12-25T16:00:00Z  # Christmas Day, an exchange holiday (Friday)
    2026-11-27T19:00:00Z  # Friday after Thanksgiving, 14:00 New York: after the 13:00 early close
    2027-03-15T14:00:00Z  # Monday after DST began (2027-03-14), 10:00 EDT
    2026-11-02T15:00:00Z  # Monday after DST ended (2026-11-01), 10:00 EST
    2026-12-16T04:30:00Z  # Tuesday 23:30 New York: already Wednesday in UTC
)
read -r -a matrix <<< "${MBT_CLOCK_MATRIX:-${default_matrix[*]}}"
status=0
failed=()
for instant in "${matrix[@]}"; do
    echo "== MBT_CLOCK=$instant"
    MBT_CLOCK=$instant .venv/bin/python -m pytest -m clock -q -p no:cacheprovider "$@"
    rc=$?
    if [ $rc -eq 5 ]; then
        echo "no test is marked clock"; rc=1
    fi
    if [ $rc -ne 0 ]; then
        status=1; failed+=("$instant")
    fi
done
if [ $status -ne 0 ]; then
    echo "test-clock: failed at ${failed[*]}"
else
    echo "test-clock: passed at all ${#matrix[@]} instants"
fi
exit $status
