"""The error base: every expected failure carries its HTTP status and renders as problem+json (RFC 9457)."""

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict


class FieldError(BaseModel):
    """One invalid field: where it is and what is wrong with it."""

    loc: list[str | int]
    msg: str


class Problem(BaseModel):
    """An `application/problem+json` body; an error may add members of its own (RFC 9457 extensions)."""

    model_config = ConfigDict(extra="allow")

    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    errors: list[FieldError] | None = None


class AppError(Exception):
    """Base of the services' expected failures; subclasses set `status` and `title`."""

    status: ClassVar[int] = 400
    title: ClassVar[str] = "Bad request"

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

    def problem(self) -> Problem:
        """The problem document for this error, with its extension members."""
        return Problem(title=self.title, status=self.status, detail=self.detail, errors=self.errors, **self.extra)


class NotFound(AppError):
    status = 404
    title = "Not found"


class Conflict(AppError):
    status = 409
    title = "Conflict"


class PreconditionFailed(AppError):
    status = 412
    title = "Precondition failed"


class Unprocessable(AppError):
    status = 422
    title = "Unprocessable entity"

    @classmethod
    def field(cls, loc: list[str | int], msg: str) -> "Unprocessable":
        """An error about one field, named in `errors` and in the detail."""
        return cls(f"{'.'.join(map(str, loc))}: {msg}", errors=[FieldError(loc=loc, msg=msg)])


class Unauthorized(AppError):
    status = 401
    title = "Unauthorized"


class Forbidden(AppError):
    status = 403
    title = "Forbidden"


class Gone(AppError):
    status = 410
    title = "Gone"


class PayloadTooLarge(AppError):
    status = 413
    title = "Payload too large"
