"""Baton's UUID strings are the ``uuid`` module's, character for character; random ones never repeat, not even across a fork."""

from __future__ import annotations

import multiprocessing
import random
import uuid

from baton_shared import uuid_strings

NAMESPACE = uuid.UUID("6f1c2a4e-3b7d-5e8f-9a0b-1c2d3e4f5a6b")


def test_name_based_ids_are_uuid5_s():
    draw = random.Random(7)
    for _ in range(5_000):
        name = "".join(draw.choice("ab:é0_9-") for _ in range(draw.randint(0, 40)))
        assert uuid_strings.name_based(NAMESPACE, name) == str(uuid.uuid5(NAMESPACE, name))


def test_an_int_is_written_as_uuid_writes_it():
    draw = random.Random(8)
    for value in [0, (1 << 128) - 1, *(draw.getrandbits(128) for _ in range(5_000))]:
        assert uuid_strings.of_int(value) == str(uuid.UUID(int=value))


def test_random_ids_are_version_4_and_distinct():
    ids = [uuid_strings.random_uuid() for _ in range(20_000)]
    assert len(set(ids)) == len(ids)
    for text in ids[:2_000]:
        parsed = uuid.UUID(text)
        assert (parsed.version, parsed.variant, str(parsed)) == (4, uuid.RFC_4122, text)


def _draw_in_child(sent) -> None:  # noqa: ANN001
    sent.send([uuid_strings.random_uuid() for _ in range(50)])


def test_a_forked_child_draws_ids_of_its_own():
    uuid_strings.random_uuid()  # the parent holds a page of random bytes
    received, sent = multiprocessing.get_context("fork").Pipe(duplex=False)
    child = multiprocessing.get_context("fork").Process(target=_draw_in_child, args=(sent,))
    child.start()
    childs = set(received.recv())
    child.join(10)
    parents = {uuid_strings.random_uuid() for _ in range(50)}
    assert len(childs) == 50 and not childs & parents
