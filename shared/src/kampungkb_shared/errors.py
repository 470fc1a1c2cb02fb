"""The error base: every expected failure carries its HTTP status and renders as problem+json (RFC 9457).

Each kind of problem has a `type` URI, `/problems/<kind>`, so that a client branches on it without reading `detail`.
"""

import re
from collections.abc import Iterator
from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

PROBLEM_TYPE_PREFIX = "/problems/"


def _never_null(schema: dict[str, Any]) -> None:
    """An optional member that is left out rather than sent as null: no `default: null` in its schema."""
    schema.pop("default", None)


class FieldError(BaseModel):
    """One invalid field: where it is and what is wrong with it."""

    loc: list[str | int] = Field(
        description="Where the field is: `body`, `query`, `path` or `header`, then the names, keys and list indexes "
        'down to it, e.g. `["body", "pokja", "members"]`; for a key of a mapping that is not valid, that key, e.g. '
        '`["body", "kb_users", "KB_PILL"]` (`type` tells it from its value).'
    )
    msg: str = Field(description="What is wrong with it, in English.")
    type: Annotated[str | None, WithJsonSchema({"type": "string"})] = Field(
        default=None,
        exclude_if=lambda value: value is None,
        json_schema_extra=_never_null,
        description="What kind of error it is, stable across releases and languages, to show a message of the "
        "client's own: the validator's error type (`missing`, `enum`, `greater_than_equal`, `string_too_short`, "
        "`value_error`, ..., as pydantic names them). Absent on an error of a check of the service's own beyond the "
        "request's schema (a rule across fields or modules, a cursor it never gave), whose `msg` says what is wrong.",
        examples=["greater_than_equal"],
    )


class Problem(BaseModel):
    """An `application/problem+json` body; an error may add members of its own (RFC 9457 extensions)."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(
        default="about:blank",
        description="The kind of problem, `/problems/<kind>`: branch on it (the kinds are listed in the API "
        "description).",
        examples=["/problems/not-found"],
    )
    title: str = Field(description="A short summary of the kind of problem.", examples=["Not found"])
    status: int = Field(description="The HTTP status code.", ge=400, le=599, examples=[404])
    detail: str | None = Field(
        default=None, description="What went wrong in this request.", examples=["no Kampung KB 42"]
    )
    errors: list[FieldError] | None = Field(
        default=None, description="For validation problems: every invalid field, with where it is and why."
    )


def _slug(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")


class AppError(Exception):
    """The request cannot be taken as it is: its body cannot be read as JSON (not UTF-8, nested deeper than the
    decoder goes; on the registry, any body that is not JSON, one cut short too).

    The base of every expected failure: subclasses set `status`, `title` and `kind` (else derived from the title),
    and the first paragraph of their docstring, which the API description lists, says when the problem happens."""

    status: ClassVar[int] = 400
    title: ClassVar[str] = "Bad request"
    kind: ClassVar[str] = "bad-request"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "kind" not in cls.__dict__ and "title" in cls.__dict__:
            cls.kind = _slug(cls.title)

    def __init__(
        self,
        detail: str,
        *,
        errors: list[FieldError] | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors
        self.headers = headers
        self.extra = extra

    @classmethod
    def type_uri(cls) -> str:
        """The problem's `type`: `/problems/<kind>`."""
        return f"{PROBLEM_TYPE_PREFIX}{cls.kind}"

    def problem(self) -> Problem:
        """The problem document for this error, with its extension members."""
        return Problem(
            type=self.type_uri(),
            title=self.title,
            status=self.status,
            detail=self.detail,
            errors=self.errors,
            **self.extra,
        )


class NotFound(AppError):
    """The resource does not exist, or is outside what the caller may read."""

    status = 404
    title = "Not found"


class Conflict(AppError):
    """The request conflicts with the current state: the desa already has an active Kampung KB, the region already
    has a percontohan, the idempotency key was used for another request."""

    status = 409
    title = "Conflict"


class PeriodApproved(Conflict):
    """The month is approved (or closed by the passing of time) for a region holding the Kampung KB: only an officer
    whose scope covers that region may still write into it, or reopen it."""

    title = "Period approved"
    kind = "period-approved"


class PreconditionFailed(AppError):
    """`If-Match` names another version than the current one (or `If-None-Match: *` and the resource exists):
    read it again, then retry with its `ETag`."""

    status = 412
    title = "Precondition failed"


class Unprocessable(AppError):
    """A field is invalid (`errors` names each, with where it is), or a rule across fields or modules is broken."""

    status = 422
    title = "Unprocessable entity"
    kind = "validation"

    @classmethod
    def field(cls, loc: list[str | int], msg: str) -> "Unprocessable":
        """An error about one field, named in `errors` and in the detail."""
        return cls(f"{'.'.join(map(str, loc))}: {msg}", errors=[FieldError(loc=loc, msg=msg)])


class UnsupportedMediaType(AppError):
    """The body's `Content-Type` is not one the endpoint reads: `application/json` for a JSON body; `text/csv` or
    `application/x-ndjson` for an import."""

    status = 415
    title = "Unsupported media type"


class Unauthorized(AppError):
    """No API key, or one that is unknown, expired or revoked."""

    status = 401
    title = "Unauthorized"


class Forbidden(AppError):
    """The key is valid, but its role or region scope does not allow this request."""

    status = 403
    title = "Forbidden"


class MethodNotAllowed(AppError):
    """The path exists, but not with this method."""

    status = 405
    title = "Method not allowed"


class Gone(AppError):
    """What the request names existed, but is no longer there (a used or expired code, an expired cursor)."""

    status = 410
    title = "Gone"


class PayloadTooLarge(AppError):
    """The request body is over the limit of the endpoint (or a batch holds too many items)."""

    status = 413
    title = "Payload too large"


class TooManyRequests(AppError):
    """Over the request limit: wait for the seconds `Retry-After` says."""

    status = 429
    title = "Too many requests"


class InternalError(AppError):
    """An unexpected failure on the server side; it is logged with the request id."""

    status = 500
    title = "Internal server error"
    kind = "internal"


class ServiceUnavailable(AppError):
    """A service this request needs is unreachable; retry later (`Retry-After` when known)."""

    status = 503
    title = "Service unavailable"
    kind = "unavailable"


def problem_kinds() -> Iterator[type[AppError]]:
    """Every kind of problem the loaded code can raise, one class per kind (the first defined), by status."""
    seen: dict[str, type[AppError]] = {}
    pending: list[type[AppError]] = [AppError]
    while pending:
        cls = pending.pop(0)
        seen.setdefault(cls.kind, cls)
        pending.extend(cls.__subclasses__())
    return iter(sorted(seen.values(), key=lambda cls: (cls.status, cls.kind)))
