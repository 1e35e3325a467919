"""Alembic environment of notify's database: its projections' tables and the delivery state."""

from baton_shared.service.migrations import run_env

from baton_notify.migrations import schema

run_env(schema())
