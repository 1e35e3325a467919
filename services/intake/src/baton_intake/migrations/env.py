"""Alembic environment of intake's database: the tables of every projection intake runs."""

from baton_shared.service.migrations import run_env, schema_of

from baton_intake.projections import own_and_foreign

run_env(schema_of(own_and_foreign()))
