"""What a filtered feed may take as not sent to it, and the reply subjects it counts by."""

import pytest

from baton_shared.contracts import STREAMS, registry
from baton_shared.contracts import delivery as fev
from baton_shared.eventstore.reader import ack_metadata, consumer_sequence
from baton_shared.projections.base import Projection
from baton_shared.projections.client_managers import ClientManagers
from baton_shared.projections.feed import ProjectionFeed
from baton_shared.projections.runner import ProjectionRunner
from baton_shared.projections.hearing import HeardThrough


def test_a_run_the_consumer_counted_without_a_break_skips_only_what_lies_after_the_last_delivery():
    heard = HeardThrough(since=10, seqs=(14, 17))
    assert heard.next_held(11) == 14  # 11-13: events the filter passes none of
    assert heard.next_held(15) == 17
    assert heard.next_held(9) == 9  # at or before the last delivery applied: nothing is assumed
    assert heard.next_held(10) == 10
    assert heard.next_held(18) == 18  # past the batch: nothing is known


@pytest.mark.parametrize(
    "reply",
    [
        "$JS.ACK.INTAKE.delivery_projections_intake.1.4711.23.1733480000000000000.0",
        "$JS.ACK.hub.ACCHASH.INTAKE.delivery_projections_intake.1.4711.23.1733480000000000000.0.rnd",
    ],
)
def test_the_consumer_sequence_is_read_from_both_reply_layouts(reply):
    assert ack_metadata(reply) == (4711, 1733480000000000000)
    assert consumer_sequence(reply) == 23


class Managers(ClientManagers):
    name = "managers"
    table_name = "managers"


class Everything(Managers):
    name = "everything"
    table_name = "everything"
    folds = None


class Foreign(Managers):
    name = "foreign"
    table_name = "foreign"
    folds = (fev.WorkOrderOpened,)


def feed_of(*projections: Projection) -> ProjectionFeed:
    members = [ProjectionRunner(p, None, STREAMS["intake"], registry, service="delivery") for p in projections]
    return ProjectionFeed(members, service="delivery")


def test_a_feed_is_filtered_only_when_every_projection_names_what_it_folds():
    feed = feed_of(Managers())
    assert feed.hears == ["intake.*.*.AccountManagerAssigned", "intake.*.*.ClientRegistered"]
    assert all(m.hears == feed.hears for m in feed.members)
    everything = feed_of(Managers(), Everything())
    assert everything.hears is None and all(m.hears is None for m in everything.members)
    with pytest.raises(ValueError, match="folds only its events"):
        feed_of(Foreign())
