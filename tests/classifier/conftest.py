from collections.abc import AsyncIterator

import httpx
import pytest
from asgi_lifespan import LifespanManager

from classifier.main import create_app
from classifier.settings import Settings


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    """The classifier app, lifespan run, behind an in-process transport."""
    app = create_app(Settings())
    async with (
        LifespanManager(app) as manager,
        httpx.AsyncClient(transport=httpx.ASGITransport(app=manager.app), base_url="http://classifier") as http,
    ):
        yield http
