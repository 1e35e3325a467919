"""notify's schema: its projections' tables and the delivery state (cursors, parked deliveries)."""

from sqlalchemy import MetaData


def schema() -> MetaData:
    from baton_shared.service.migrations import schema_of

    from baton_notify.deliveries import state
    from baton_notify.projections import all_projections

    metadata = schema_of(all_projections())
    for table in state.metadata.tables.values():
        table.to_metadata(metadata)
    return metadata
