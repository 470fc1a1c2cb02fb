"""Rules of a Kampung KB's address, shared by the API and the import."""


def desa_level_error(code: str, level: str | None) -> str | None:
    """Why `code` cannot hold a Kampung KB (it must be a desa or kelurahan), given its level in `wilayah` (None when
    it is no known region); None when it can."""
    if level == "desa":
        return None
    found = "not a known region" if level is None else f"a {level}"
    return f"must be a desa or kelurahan code; {code} is {found}"
