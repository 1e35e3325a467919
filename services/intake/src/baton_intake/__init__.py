"""Baton intake: clients, their needs, clarifications and handoffs to departments.

- ``domain``: the Client and Request aggregates and their rules (no I/O);
- ``application``: command handling (load, decide, append, retry on conflict);
- ``api``: the HTTP API;
- ``projections``: the read models (clients, requests, client timeline);
- ``reactions``: reactions to other services' events;
- ``composition``: the composition root that wires it all.
"""
