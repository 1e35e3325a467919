"""The console's pages, one module per page family; each has a ``router`` and adds its
``DONE`` lines (``baton_console.web``). A new family: a module here, listed below."""

from baton_console.pages import agenda, board, clients, notices, ops, relationship, requests, session, supervision

routers = [
    session.router,
    agenda.router,
    clients.router,
    relationship.router,
    requests.router,
    board.router,
    ops.router,
    supervision.router,
    notices.router,
]

__all__ = ["routers"]
