import gc

from kampungkb_shared.collector import collector_paused, freeze_startup_objects


def test_pauses_nest_and_the_collector_resumes_after_the_outermost() -> None:
    assert gc.isenabled()
    with collector_paused():
        assert not gc.isenabled()
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()


def test_a_collector_that_was_off_stays_off() -> None:
    gc.disable()
    try:
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_an_error_inside_still_resumes_it() -> None:
    try:
        with collector_paused():
            raise ValueError("boom")
    except ValueError:
        pass
    assert gc.isenabled()


def test_objects_alive_at_startup_are_frozen_and_later_ones_are_not() -> None:
    class Node:
        pass

    started = Node()
    started.self = started  # type: ignore[attr-defined]
    try:
        freeze_startup_objects()
        assert gc.get_freeze_count() > 0
        assert not any(obj is started for obj in gc.get_objects())  # frozen: out of every generation
        later = Node()
        assert any(obj is later for obj in gc.get_objects())
    finally:
        gc.unfreeze()
