"""Which import jobs a principal may read: the statement lists and gets build on."""

from sqlalchemy import ColumnElement, Select, false, or_, select

from registry_api.auth.models import ApiKey
from registry_api.auth.readable import scope_within
from registry_api.auth.service import Principal
from registry_api.imports.models import ImportJob


def readable_imports(principal: Principal) -> Select[ImportJob]:
    """Import jobs a principal may read: those sent with its own keys, and those of scopes inside its own."""
    own: ColumnElement[bool] = false()
    if principal.principal_id is not None:
        own = ImportJob.key_id.in_(select(ApiKey.id).where(ApiKey.principal_id == principal.principal_id))
    return select(ImportJob).where(or_(own, scope_within(ImportJob.scope, principal)))
