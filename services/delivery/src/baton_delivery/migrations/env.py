"""Alembic environment of delivery's database: the tables of every projection delivery runs."""

from baton_shared.service.migrations import run_env, schema_of

from baton_delivery.projections import all_projections

run_env(schema_of(all_projections()))
