"""`configure_logging` sends uvicorn's and arq's loggers through the root's JSON handler, and leaves off the access
log that uvicorn was told not to write (`--no-access-log`)."""

import logging
from collections.abc import Iterator

import pytest

from kampungkb_shared.observability import configure_logging

NAMES = ("uvicorn", "uvicorn.error", "uvicorn.access", "arq")


@pytest.fixture
def loggers() -> Iterator[None]:
    root = logging.getLogger()
    saved_root = (root.handlers[:], root.level)
    saved = {name: (logging.getLogger(name).handlers[:], logging.getLogger(name).propagate) for name in NAMES}
    yield
    root.handlers[:], level = saved_root
    root.setLevel(level)
    for name, (handlers, propagate) in saved.items():
        logging.getLogger(name).handlers[:] = handlers
        logging.getLogger(name).propagate = propagate


def _as_uvicorn_leaves_them(*, access_log: bool) -> None:
    """uvicorn's own logging config: handlers of its own, no propagation; `--no-access-log` empties the access one."""
    for name in ("uvicorn", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = [logging.StreamHandler()]
        logging.getLogger(name).propagate = False
    if not access_log:
        logging.getLogger("uvicorn.access").handlers[:] = []


@pytest.mark.usefixtures("loggers")
@pytest.mark.parametrize("access_log", [True, False])
def test_uvicorn_logs_through_the_root_and_its_access_log_stays_as_asked(access_log: bool) -> None:
    _as_uvicorn_leaves_them(access_log=access_log)
    configure_logging(level="INFO", json_logs=True)
    for name in NAMES:
        logger = logging.getLogger(name)
        assert logger.handlers == []
        assert logger.propagate is (access_log or name != "uvicorn.access"), name
    assert logging.getLogger("uvicorn.access").hasHandlers() is access_log
