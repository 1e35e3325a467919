"""Alembic environment of follow-up's database: the tables of every projection follow-up runs."""

from baton_shared.service.migrations import run_env, schema_of

from baton_followup.projections import all_projections

run_env(schema_of(all_projections()))
