#!/bin/sh
# Runs once, when the PostgreSQL volume is first initialised (docker-entrypoint-initdb.d):
# one database per service, owned by that service's own role, so a service can reach
# no other service's tables. Passwords come from the environment (deploy/.env).
set -eu

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

create intake "$BATON_INTAKE_DB_PASSWORD"
create delivery "$BATON_DELIVERY_DB_PASSWORD"
create followup "$BATON_FOLLOWUP_DB_PASSWORD"
