"""The same catch-up workload through the ``eventsourcing`` library (pyeventsourcing 9.5).

An ``Application`` stores the workload in PostgreSQL (its own database beside
Baton's bench database, same server): clients registered, then notes, one
``save`` of ten events per client, as Baton's fill writes one atomic batch per
client. Then the library processes them the two ways it offers:

- **projection**: ``eventsourcing.projection.ProjectionRunner`` with a
  ``Projection`` writing a clients table (one row per client, notes as a JSON
  list, exactly what Baton's clients projection keeps) into a materialised view
  built on ``PostgresTrackingRecorder``: the row change and the tracking record
  in one transaction per event, the library's exactly-once recipe;
- **follower**: a ``ProcessApplication`` following the application with
  ``pull_and_process`` (the system runner's path); its policy records nothing,
  so what is measured is the floor of the follower's per-event work: read,
  decode, record the tracking position in one transaction.

Both are timed from the first event to the last, from an empty tracking table.
"""

from __future__ import annotations

import importlib.metadata
import json
import time
import uuid
from typing import Any

from eventsourcing.application import Application, ProcessingEvent
from eventsourcing.dispatch import singledispatchmethod
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import Tracking, TrackingRecorder
from eventsourcing.postgres import PostgresDatastore, PostgresTrackingRecorder
from eventsourcing.projection import Projection, ProjectionRunner
from eventsourcing.system import ProcessApplication
from psycopg.sql import SQL, Identifier


class Client(Aggregate):
    @event("Registered")
    def __init__(self, name: str, segment: str, account_manager: str, contacts: list, annual_revenue: str) -> None:
        self.name = name
        self.segment = segment
        self.account_manager = account_manager
        self.contacts = contacts
        self.annual_revenue = annual_revenue
        self.notes: list[dict] = []

    @event("NoteAdded")
    def add_note(self, note_id: str, text: str, author: str) -> None:
        self.notes.append({"note_id": note_id, "text": text, "author": author})


class Clients(Application):
    pass


class ClientsView(TrackingRecorder):
    def register(self, client_id: str, e: Any, tracking: Tracking) -> None:
        raise NotImplementedError

    def add_note(self, client_id: str, e: Any, tracking: Tracking) -> None:
        raise NotImplementedError

    def count(self) -> int:
        raise NotImplementedError


class PostgresClientsView(PostgresTrackingRecorder, ClientsView):
    """Baton's clients read model, kept by the library's recipe."""

    def __init__(self, datastore: PostgresDatastore, **kwargs: Any) -> None:
        super().__init__(datastore, **kwargs)
        self.table = Identifier(self.datastore.schema, "es_clients")
        self.sql_create_statements.append(
            SQL(
                "CREATE TABLE IF NOT EXISTS {0} (client_id text PRIMARY KEY, name text NOT NULL, segment text NOT NULL, "
                "account_manager text NOT NULL, annual_revenue text, contacts jsonb NOT NULL, notes jsonb NOT NULL, "
                "registered_at timestamptz NOT NULL, updated_at timestamptz NOT NULL, version bigint NOT NULL)"
            ).format(self.table)
        )

    def register(self, client_id: str, e: Any, tracking: Tracking) -> None:
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(
                SQL(
                    "INSERT INTO {0} VALUES (%s, %s, %s, %s, %s, %s, '[]', %s, %s, %s) "
                    "ON CONFLICT (client_id) DO NOTHING"
                ).format(self.table),
                (
                    client_id,
                    e.name,
                    e.segment,
                    e.account_manager,
                    e.annual_revenue,
                    json.dumps(e.contacts),
                    e.timestamp,
                    e.timestamp,
                    e.originator_version,
                ),
                prepare=True,
            )
            self._insert_tracking(curs, tracking)

    def add_note(self, client_id: str, e: Any, tracking: Tracking) -> None:
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(
                SQL(
                    "UPDATE {0} SET notes = notes || %s::jsonb, updated_at = %s, version = %s WHERE client_id = %s"
                ).format(self.table),
                (
                    json.dumps([{"note_id": e.note_id, "text": e.text, "author": e.author}]),
                    e.timestamp,
                    e.originator_version,
                    client_id,
                ),
                prepare=True,
            )
            self._insert_tracking(curs, tracking)

    def count(self) -> int:
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(SQL("SELECT count(*) AS n FROM {0}").format(self.table))
            return int(curs.fetchone()["n"])


class ClientsProjection(Projection[ClientsView]):
    name = "esclients"

    @singledispatchmethod
    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        self.view.insert_tracking(tracking)

    @process_event.register
    def _(self, domain_event: Client.Registered, tracking: Tracking) -> None:
        self.view.register(str(domain_event.originator_id), domain_event, tracking)

    @process_event.register
    def _(self, domain_event: Client.NoteAdded, tracking: Tracking) -> None:
        self.view.add_note(str(domain_event.originator_id), domain_event, tracking)


class Follower(ProcessApplication):
    """Follows ``Clients``; its policy records nothing beyond the tracking position."""

    @singledispatchmethod
    def policy(self, domain_event: Any, processing_event: ProcessingEvent) -> None:
        return None


def _env(dsn: dict[str, str]) -> dict[str, str]:
    return {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": dsn["dbname"],
        "POSTGRES_HOST": dsn["host"],
        "POSTGRES_PORT": dsn["port"],
        "POSTGRES_USER": dsn["user"],
        "POSTGRES_PASSWORD": dsn["password"],
        "POSTGRES_POOL_SIZE": "4",
    }


def fresh_database(dsn: dict[str, str]) -> None:
    import psycopg

    with psycopg.connect(
        host=dsn["host"],
        port=dsn["port"],
        user=dsn["user"],
        password=dsn["password"] or None,
        dbname="postgres",
        autocommit=True,
    ) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{dsn["dbname"]}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{dsn["dbname"]}"')


def run(url: str, events: int, per_client: int = 10) -> dict:
    """Write ``events`` events through the library, then time its projection and its follower."""
    from sqlalchemy.engine import make_url

    u = make_url(url)
    dsn = {
        "host": u.host or "127.0.0.1",
        "port": str(u.port or 5432),
        "user": u.username or "postgres",
        "password": u.password or "",
        "dbname": u.database or "baton_bench_es",
    }
    fresh_database(dsn)
    env = _env(dsn)
    app = Clients(env=env)
    clients = events // per_client
    t = time.perf_counter()
    for _ in range(clients):
        client = Client(
            name="Bench client", segment="B2B", account_manager="alice", contacts=[], annual_revenue="1000000"
        )
        for n in range(per_client - 1):
            client.add_note(note_id=str(uuid.uuid4()), text=f"nuance {n + 1}", author="bench")
        app.save(client)
    write_rate = clients * per_client / (time.perf_counter() - t)
    last = app.recorder.max_notification_id()
    app.close()

    # projection into a materialised view, through the library's runner (threads)
    t = time.perf_counter()
    with ProjectionRunner(
        application_class=Clients, projection_class=ClientsProjection, view_class=PostgresClientsView, env=env
    ) as runner:
        runner.wait(last, timeout=3600)
        projection_s = time.perf_counter() - t
        rows = runner.projection.view.count()
    assert rows == clients, (rows, clients)

    # a follower, pulled the way the system runner pulls
    leader = Clients(env=env)
    follower = Follower(env={**env, "POSTGRES_SCHEMA": "public"})
    follower.follow(leader.name, leader.notification_log)
    t = time.perf_counter()
    follower.pull_and_process(leader.name)
    follower_s = time.perf_counter() - t
    processed = follower.recorder.max_tracking_id(leader.name)
    leader.close()
    follower.close()
    assert processed == last, (processed, last)
    return {
        "events": clients * per_client,
        "write_events_per_s": write_rate,
        "projection_events_per_s": clients * per_client / projection_s,
        "follower_events_per_s": clients * per_client / follower_s,
        "library": "eventsourcing " + importlib.metadata.version("eventsourcing"),
    }


if __name__ == "__main__":
    import sys

    print(
        run(
            sys.argv[1] if len(sys.argv) > 1 else "postgresql://postgres@127.0.0.1:5432/baton_bench_es",
            int(sys.argv[2]) if len(sys.argv) > 2 else 2000,
        )
    )
