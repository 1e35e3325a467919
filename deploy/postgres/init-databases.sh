#!/bin/sh
# Runs once, when the PostgreSQL volume is first initialised (docker-entrypoint-initdb.d):
# one database per service, owned by that service's own role, so a service can reach
# no other service's tables. Passwords come from files (compose secrets, named by
# BATON_<SERVICE>_DB_PASSWORD_FILE) or the environment; a change-me-… placeholder of
# deploy/.env.example is refused (the first start fails rather than keeping it).
set -eu

secret() {
  name="$1"
  eval "file=\${${name}_FILE:-}"
  if [ -n "$file" ]; then
    value=$(cat "$file")
  else
    eval "value=\${${name}:-}"
  fi
  case "$value" in
    change-me*|"")
      echo "postgres init: $name is unset or still the placeholder from deploy/.env.example: set a real secret in deploy/.env" >&2
      exit 1
      ;;
  esac
  printf '%s' "$value"
}

secret POSTGRES_PASSWORD >/dev/null

create() {
  role="$1"
  password="$2"
  psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
       -v role="$role" -v password="$password" <<'SQL'
CREATE ROLE :"role" LOGIN PASSWORD :'password';
CREATE DATABASE :"role" OWNER :"role";
REVOKE ALL ON DATABASE :"role" FROM PUBLIC;
SQL
}

# Each read on its own line: a refusal inside $(…) stops the script only from an assignment.
intake_password=$(secret BATON_INTAKE_DB_PASSWORD)
delivery_password=$(secret BATON_DELIVERY_DB_PASSWORD)
followup_password=$(secret BATON_FOLLOWUP_DB_PASSWORD)
notify_password=$(secret BATON_NOTIFY_DB_PASSWORD)
create intake "$intake_password"
create delivery "$delivery_password"
create followup "$followup_password"
create notify "$notify_password"
