"""Baton's shared event-sourcing core.

A library, not an app: it has no entry points. Services build on it:

- ``events``: the envelope every event travels in, and the registry that turns
  stored bytes back into typed payloads (with upcasters for old versions);
- ``contracts``: the pydantic payloads each service publishes (the only thing
  services share besides this library);
- ``eventstore``: the JetStream event store (and an in-memory fake for tests);
- ``projections``: the runner that folds a stream into SQL read models;
- ``reactions``: the runner for cross-service policies;
- ``observability``: structured logs and Prometheus metrics, for every layer;
- ``service``: settings, health, HTTP and AsyncAPI wiring.
"""
