"""Alembic environment of notify's database: its projections' tables and the delivery state."""

from baton_shared.service.migrations import run_env, schema_of

from baton_notify.deliveries import state
from baton_notify.projections import all_projections

metadata = schema_of(all_projections())
for table in state.metadata.tables.values():
    table.to_metadata(metadata)
run_env(metadata)
