"""Baton delivery: department work orders, deadlines, handover, acceptance and rework.

- ``domain``: the RequestDelivery aggregate (a request's work orders and handover);
- ``application``: command handling;
- ``api``: the HTTP API;
- ``reactions``: reactions to intake's events (handoffs, changes, cancellations);
- ``scheduler``: the overdue detector (time as an event source);
- ``projections``: work orders, request deliveries, clients' account managers;
- ``composition``: the composition root.
"""
