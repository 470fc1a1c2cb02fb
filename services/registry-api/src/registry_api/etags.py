"""Entity tags for optimistic concurrency: a resource's version as `ETag`, checked against `If-Match`."""

from kampungkb_shared.errors import PreconditionFailed


def etag(version: int) -> str:
    return f'"v{version}"'


def check_if_match(if_match: str | None, version: int) -> None:
    """Pass when there is no `If-Match`, or when it names the current version (or `*`); otherwise 412."""
    if if_match is None:
        return
    tags = {tag.strip().removeprefix("W/") for tag in if_match.split(",")}
    if "*" not in tags and etag(version) not in tags:
        raise PreconditionFailed(f"If-Match {if_match} does not match the current version {etag(version)}")
