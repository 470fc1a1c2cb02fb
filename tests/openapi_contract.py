"""Checks every OpenAPI document of the platform passes: what a generated client and a front-end developer need."""

import re
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlsplit

import httpx
from openapi_spec_validator import validate

from kampungkb_shared.errors import problem_kinds

CAMEL_CASE = re.compile(r"^[a-z][a-zA-Z0-9]*$")
PROBLEM_TYPE = re.compile(r"/problems/[a-z0-9-]+")
PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}


def operations(schema: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(path, method, op) for path, item in schema["paths"].items() for method, op in item.items()]


def check_document(schema: dict[str, Any]) -> None:
    """Valid OpenAPI; camelCase unique operation ids, a summary and a description each; every error a problem of a
    listed type; request bodies with examples; every field of every schema described."""
    validate(schema)
    listed = {problem["type"] for problem in schema["x-problem-types"]}
    assert {cls.type_uri() for cls in problem_kinds()} <= listed
    assert all(t in schema["info"]["description"] for t in listed)
    ids = [op["operationId"] for _, _, op in operations(schema)]
    assert len(ids) == len(set(ids))
    for path, method, op in operations(schema):
        where = f"{method.upper()} {path}"
        assert CAMEL_CASE.match(op["operationId"]), where
        assert op.get("summary") and op.get("description"), where
        assert "default" not in op["responses"], where
        for status, response in op["responses"].items():
            if status[0] not in "45" or op["operationId"] == "readyz":
                continue
            assert response["content"] == {"application/problem+json": {"schema": PROBLEM_REF}}, (where, status)
            mentioned = set(PROBLEM_TYPE.findall(response["description"]))
            assert mentioned and mentioned <= listed, (where, status)
        if "requestBody" in op:
            for media, content in op["requestBody"]["content"].items():
                target = content["schema"]
                if "$ref" in target:
                    target = schema["components"]["schemas"][target["$ref"].rsplit("/", 1)[1]]
                assert "example" in content or "examples" in content or target.get("examples"), (where, media)
    fields = [
        (name, field, spec)
        for name, s in schema["components"]["schemas"].items()
        for field, spec in s.get("properties", {}).items()
    ]
    undescribed = [f"{name}.{field}" for name, field, spec in fields if "description" not in spec]
    assert not undescribed, undescribed


class _Assets(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in {"src", "href", "spec-url"} and value:
                self.urls.append(value)


async def check_docs_offline(http: httpx.AsyncClient) -> None:
    """/docs and /redoc, and every script, style and document they load, come from the service itself."""
    kinds = {".js": "javascript", ".css": "text/css", ".png": "image/png", ".json": "application/json"}
    for page in ("/docs", "/redoc"):
        response = await http.get(page)
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
        parser = _Assets()
        parser.feed(response.text)
        urls = parser.urls + re.findall(r"url: '([^']+)'", response.text)
        assert any(url.endswith(".js") for url in urls), (page, urls)
        assert not re.search(r"https?://", response.text.replace("http://www.w3.org", "")), page
        for url in urls:
            assert not urlsplit(url).netloc, (page, url)
            asset = await http.get(url)
            assert asset.status_code == 200, (page, url)
            expected = next(kind for suffix, kind in kinds.items() if url.endswith(suffix))
            assert expected in asset.headers["content-type"], (page, url, asset.headers["content-type"])
