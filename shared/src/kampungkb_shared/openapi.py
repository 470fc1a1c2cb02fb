"""What the HTTP services' OpenAPI documents share: readable operation ids and the constraints of common parameters.

Needs the `http` extra (FastAPI).
"""

from typing import Any

from fastapi.routing import APIRoute

REGION_CODE_PATTERN = r"^(00|\d{2}(\.\d{2}(\.\d{2}(\.\d{4})?)?)?)$"
"""A Kemendagri region code of any level (`36`, `36.71`, `36.71.01`, `36.71.01.1001`), or `00` for the nation."""


def operation_id(route: APIRoute) -> str:
    """The route's function name in camelCase: `put_kkbpk` becomes `putKkbpk`, stable across paths and methods."""
    head, *rest = route.name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def constrain(schema: dict[str, Any], **constraints: Any) -> None:
    """Add JSON Schema constraints to a parameter's string schema (or to the string branch of an optional one); one
    its type states already (a report period's pattern) stays."""
    branches = schema.get("anyOf", [schema])
    for branch in branches:
        if branch.get("type") == "string" and "format" not in branch:
            branch.update({name: value for name, value in constraints.items() if name not in branch})
