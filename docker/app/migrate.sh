#!/usr/bin/env bash
# The migrate one-shot: roles and their passwords (docker/db/roles.sh, every run, so that .env
# changes reach an existing volume), then python -m mbtctl migrate against MBT_DATABASE_URL:
# database, grants, pgmq, pending migrations, functions and policies. Exits with mbtctl's status;
# the other services start only when it exited 0.
set -euo pipefail
: "${MBT_DATABASE_URL:?MBT_DATABASE_URL must be set (libpq URI of the superuser, e.g. postgresql://postgres@db:5432/mbt)}"
mbt-db-roles
exec python -m mbtctl migrate
