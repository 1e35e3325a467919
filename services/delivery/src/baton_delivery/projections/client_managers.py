"""Who looks after each client now, projected from intake's stream (for escalations)."""

from __future__ import annotations

from baton_shared.projections.client_managers import ClientManagers


class ClientManagersProjection(ClientManagers):
    name = "client_managers"
    table_name = "client_managers"

    @property
    def client_managers(self):  # noqa: ANN201 - the table, by the name delivery's views use
        return self.table
