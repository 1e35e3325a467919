"""How a rebuild is split by aggregate: every bucket in exactly one part, and only
projections whose rows are each one aggregate's are split."""

from __future__ import annotations

import pytest

from baton_shared.projections.parts import BUCKETS, Part, bucket, parts_of
from baton_followup.projections.follow_ups import FollowUpsProjection
from baton_intake.projections import ClientsProjection, TimelineProjection

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("count", range(1, 9))
def test_the_parts_cover_every_bucket_once(count):
    parts = parts_of(count)
    assert len(parts) == count
    assert parts[0].first == 0 and parts[-1].end == BUCKETS
    assert all(a.end == b.first for a, b in zip(parts, parts[1:], strict=False))


def test_the_part_that_reads_the_log_folds_less_than_the_others():
    reader, other = parts_of(2)
    assert reader.end - reader.first < other.end - other.first


def test_an_aggregate_belongs_to_one_part_whatever_its_event():
    parts = parts_of(3)
    for n in range(200):
        subjects = [f"intake.client.c{n}.ClientRegistered", f"intake.client.c{n}.ClientNoteAdded"]
        owners = {i for subject in subjects for i, part in enumerate(parts) if part.holds(subject)}
        assert len(owners) == 1
    assert bucket("intake.client.abc.X") == bucket("intake.client.abc.Y")


def test_a_part_is_found_again_from_its_checkpoint_key():
    for part in parts_of(4):
        assert Part.from_key(part.key("intake.clients__rebuild")) == part
    with pytest.raises(ValueError):
        Part(10, 10)


def test_only_rows_each_of_one_aggregate_are_split():
    assert ClientsProjection().splits_by_aggregate()
    assert not TimelineProjection().splits_by_aggregate()  # its own fold
    assert not FollowUpsProjection().splits_by_aggregate()  # rows keyed by something else
