"""Code lists with their labels, rendered once: they change only with a release."""

from functools import cache

from kampungkb_shared.code_labels import CODE_LISTS, LIST_TITLES, labels_of
from kampungkb_shared.errors import NotFound
from registry_api.codes.schemas import CodeListRead, CodeListsRead, CodeRead
from registry_api.etags import content_etag


def _code_list(name: str) -> CodeListRead:
    title = LIST_TITLES[name]
    codes = [CodeRead(code=code, label_id=label.id, label_en=label.en) for code, label in labels_of(CODE_LISTS[name])]
    return CodeListRead(name=name, title_id=title.id, title_en=title.en, codes=codes)


@cache
def all_lists() -> tuple[bytes, str]:
    """Every list as a JSON body, with its ETag."""
    body = CodeListsRead(lists=[_code_list(name) for name in CODE_LISTS]).model_dump_json().encode()
    return body, content_etag(body)


@cache
def _one_list(name: str) -> tuple[bytes, str]:
    body = _code_list(name).model_dump_json().encode()
    return body, content_etag(body)


def one_list(name: str) -> tuple[bytes, str]:
    """One list as a JSON body, with its ETag; 404 for a name that is no list."""
    if name not in CODE_LISTS:
        raise NotFound(f"no code list {name!r}: the lists are {', '.join(CODE_LISTS)}")
    return _one_list(name)
