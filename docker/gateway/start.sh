#!/usr/bin/env bash
# The gateway container's entrypoint: render gateway/nginx.conf.in (as mbtctl/services.py does
# for the local stack, with container paths and the compose service names), then run nginx in the
# foreground as PID 1.
#   start.sh          render into $MBT_GATEWAY_NGINX_DIR/nginx.conf and exec nginx
#   start.sh render   print the rendered configuration and exit (for checks)
set -euo pipefail

template=${MBT_GATEWAY_TEMPLATE:-/opt/mbt/gateway/nginx.conf.in}
nginx_dir=${MBT_GATEWAY_NGINX_DIR:-/var/lib/mbt-gateway}

declare -A values=(
    [workers]=${MBT_GATEWAY_WORKERS:-1}
    [nginx_dir]=$nginx_dir
    [log_dir]=${MBT_GATEWAY_LOG_DIR:-/var/log/mbt}
    [gateway_dir]=${MBT_GATEWAY_DIR:-$(cd "$(dirname "$template")" && pwd)}
    [postgrest_host]=${MBT_GATEWAY_POSTGREST_HOST:-postgrest}
    [postgrest_port]=${MBT_GATEWAY_POSTGREST_PORT:-3000}
    [sessions_host]=${MBT_GATEWAY_SESSIONS_HOST:-sessions}
    [sessions_port]=${MBT_GATEWAY_SESSIONS_PORT:-3002}
    [http_port]=${MBT_GATEWAY_HTTP_PORT:-8080}
    [listen_address]=${MBT_GATEWAY_LISTEN_ADDRESS:-0.0.0.0}
)

render() {
    local text key
    text=$(<"$template")
    for key in "${!values[@]}"; do
        # the replacement is quoted: bash 5.2 would otherwise expand & in it (patsub_replacement)
        text=${text//"{{$key}}"/"${values[$key]}"}
    done
    if [[ $text =~ \{\{([A-Za-z0-9_]+)\}\} ]]; then
        echo "gateway: $template has a placeholder this script does not fill: {{${BASH_REMATCH[1]}}}" >&2
        return 1
    fi
    printf '%s\n' "$text"
}

if [[ ${1:-} == render ]]; then
    render
    exit 0
fi

secret=${MBT_JWT_SECRET:-}
if ((${#secret} < 32)); then
    echo "gateway: MBT_JWT_SECRET must be set to at least 32 characters" >&2
    exit 1
fi
mkdir -p "$nginx_dir"
render >"$nginx_dir/nginx.conf"
exec nginx -p "$nginx_dir" -c "$nginx_dir/nginx.conf" -e /dev/stderr
