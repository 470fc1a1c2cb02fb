"""The cap on exports streaming at once: its slots, never more than the pool's connections."""

import pytest

from kampungkb_shared.errors import ServiceUnavailable
from registry_api.exports.slots import RETRY_AFTER_S, ExportSlots
from tests.registry_api.conftest import registry_settings


def test_a_slot_past_the_last_is_refused_until_one_is_given_back() -> None:
    slots = ExportSlots(2)
    first, second = slots.take(), slots.take()
    with pytest.raises(ServiceUnavailable) as refused:
        slots.take()
    assert refused.value.headers == {"Retry-After": str(RETRY_AFTER_S)}
    first()
    first()  # given back twice (the body's end, then the response's): counted once
    assert slots.streaming == 1
    slots.take()
    with pytest.raises(ServiceUnavailable):
        slots.take()
    second()
    assert slots.streaming == 1


def test_never_more_exports_at_once_than_pooled_connections() -> None:
    urls = ("postgresql://registry@db/registry", "redis://cache:6379/0", "http://classifier:8001")
    assert registry_settings(*urls).export_slots == 4
    assert registry_settings(*urls, exports_at_once=11, db_pool_size=10).export_slots == 10
    assert registry_settings(*urls, db_pool_size=1).export_slots == 1
