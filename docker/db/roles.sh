#!/usr/bin/env bash
# MBT's cluster-wide roles (sql/roles.sql) and the passwords of the roles that log in over TCP.
#
# Runs in two places, with the same effect (idempotent):
#  1. in the db container, from /docker-entrypoint-initdb.d, when the official postgres entrypoint
#     initialises an empty data volume (psql reaches the temporary server over its unix socket);
#  2. in the migrate service, on every `docker compose up`, over TCP (PGHOST/PGUSER/PGPASSWORD),
#     because initdb.d scripts never run again on an existing volume: that is how a password
#     changed in .env reaches a database that already exists.
# Passwords come from the environment and reach psql through \getenv (never on a command line);
# psql quotes them as literals (:'var'). Empty optional passwords are left alone.
set -euo pipefail

roles_sql=${MBT_ROLES_SQL:-/opt/mbt/sql/roles.sql}
: "${AUTHENTICATOR_PASSWORD:?AUTHENTICATOR_PASSWORD must be set (PostgREST logs in as authenticator)}"
: "${MBT_SESSIONS_PASSWORD:?MBT_SESSIONS_PASSWORD must be set (the sessions service logs in as mbt_sessions)}"

# quiet: roles.sql re-grants memberships that already exist on every run after the first
export PGOPTIONS="${PGOPTIONS:-} -c client_min_messages=warning"
psql_args=(
    -v ON_ERROR_STOP=1 --no-psqlrc --quiet
    --username "${PGUSER:-${POSTGRES_USER:-postgres}}"
    --dbname "${MBT_ROLES_DBNAME:-postgres}"
)

echo "mbt-roles: applying $roles_sql"
psql "${psql_args[@]}" -f "$roles_sql"

# role -> the environment variable that holds its password; optional ones are set only when non-empty
declare -A password_vars=(
    [authenticator]=AUTHENTICATOR_PASSWORD
    [mbt_sessions]=MBT_SESSIONS_PASSWORD
    [mbt_jobs]=MBT_JOBS_PASSWORD
    [analyst]=ANALYST_PASSWORD
)
script=""
set_roles=()
for role in authenticator mbt_sessions mbt_jobs analyst; do
    var=${password_vars[$role]}
    if [[ -n ${!var:-} ]]; then
        script+="\\getenv pw $var"$'\n'
        script+="alter role $role password :'pw';"$'\n'
        set_roles+=("$role")
    fi
done
script+="\\unset pw"$'\n'
psql "${psql_args[@]}" <<<"$script"
echo "mbt-roles: passwords set for ${set_roles[*]}"
