"""How a whole-period job shares the provinsi out among its connections."""

from typing import Any

from report_worker.apart import provinsi_shares


def _weights(**kampung: int) -> list[dict[str, Any]]:
    return [{"code": code.lstrip("p"), "kampung": n} for code, n in kampung.items()]


def test_every_provinsi_goes_to_one_share_of_about_as_many_kampung_kb() -> None:
    weights = _weights(p11=9000, p12=8000, p31=4000, p32=3500, p33=3000, p35=500, p96=0)
    shares = provinsi_shares(weights, 2)
    assert sorted(code for share in shares for code in share) == sorted(w["code"] for w in weights)
    loads = [sum(w["kampung"] for w in weights if w["code"] in share) for share in shares]
    assert max(loads) <= 1.2 * sum(loads) / len(loads)  # the largest first, each to the lightest share
    assert shares[0][0] == "11"


def test_no_share_is_empty_when_there_are_more_connections_than_provinsi() -> None:
    assert provinsi_shares(_weights(p11=5, p12=0), 4) == [["11"], ["12"]]
    assert provinsi_shares([], 2) == []
