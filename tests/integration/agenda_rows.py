"""The agenda's read model filled from relationship and follow-up rows a test writes directly,
with the projection's own derivation and writes."""

from baton_followup.projections.agenda import AgendaProjection, entry_of
from baton_followup.projections.relationships import new_relationship


async def seed_agenda(conn, agenda: AgendaProjection, relationships: list[dict], follow_ups: list[dict]) -> None:  # noqa: ANN001
    clients = {r["client_id"]: {**new_relationship(r["client_id"]), **r} for r in relationships}
    entries = {f["follow_up_id"]: entry_of(f, clients[f["client_id"]]) for f in follow_ups if f["status"] == "open"}
    await conn.run_sync(agenda.store, {}, entries)
