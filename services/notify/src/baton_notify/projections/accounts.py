"""Whose client is whose, projected from intake's stream: the account manager a notice about a
client goes to, and the client's name for its subject line."""

from __future__ import annotations

from baton_shared.projections.client_managers import ClientManagers


class AccountsProjection(ClientManagers):
    name = "accounts"
    table_name = "notice_accounts"
