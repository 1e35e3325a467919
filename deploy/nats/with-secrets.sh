#!/bin/sh
# nats-server with its passwords read from files (compose `secrets:`, mounted under
# /run/secrets) instead of environment values `docker inspect` would show.
#
# For each password the config names ($BATON_*_NATS_PASSWORD, $BATON_NATS_ROUTE_PASSWORD),
# <NAME>_FILE names the file holding it; it is exported to this process only. A password
# still set to a change-me-… placeholder of deploy/.env.example is refused. With
# BATON_NATS_ROUTES (comma-separated nats://host:port), BATON_NATS_ROUTE_1, _2, … are made
# of them with the route user and password (cluster.conf). Then nats-server runs with the
# arguments given (the compose `command`).
set -eu

for name in BATON_INTAKE_NATS_PASSWORD BATON_DELIVERY_NATS_PASSWORD BATON_FOLLOWUP_NATS_PASSWORD BATON_NOTIFY_NATS_PASSWORD \
            BATON_OPS_NATS_PASSWORD BATON_NATS_ROUTE_PASSWORD; do
  eval "file=\${${name}_FILE:-}"
  if [ -n "$file" ]; then
    if [ ! -r "$file" ]; then
      echo "nats: ${name}_FILE $file cannot be read" >&2
      exit 2
    fi
    value=$(cat "$file")
    export "$name=$value"
  fi
  eval "value=\${${name}:-}"
  case "$value" in
    change-me*)
      echo "nats: $name is still the placeholder from deploy/.env.example (change-me-…): set a real secret in deploy/.env" >&2
      exit 2
      ;;
  esac
done

if [ -n "${BATON_NATS_ROUTES:-}" ]; then
  n=1
  for route in $(echo "$BATON_NATS_ROUTES" | tr ',' ' '); do
    export "BATON_NATS_ROUTE_$n=nats://baton-route:${BATON_NATS_ROUTE_PASSWORD}@${route#nats://}"
    n=$((n + 1))
  done
fi

exec nats-server "$@"
