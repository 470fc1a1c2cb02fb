"""The data-quality flags computed the plain way, one submission at a time: the tests' reference."""

import datetime as dt
import statistics
from typing import Any

from kampungkb_shared.codes import Contraception
from tests.report_worker.oracle import Rows

Key = tuple[int, dt.date, str, str]
"""(kampung id, period, kind, subject)"""


def months_before(period: dt.date, months: int) -> dt.date:
    index = period.year * 12 + period.month - 1 - months
    return dt.date(index // 12, index % 12 + 1, 1)


def counts(payload: dict[str, Any]) -> dict[str, int]:
    users = payload["kb_users"]
    out = {code.value: users.get(code.value, 0) for code in Contraception}
    out["TOTAL"] = sum(out.values())
    return out


def population(payload: dict[str, Any]) -> int | None:
    people = payload.get("population")
    return None if not people else sum(people["male"]) + sum(people["female"])


def expected_flags(
    rows: Rows,
    periods: list[dt.date],
    *,
    min_history: int = 6,
    outlier_z: float = 3.5,
    jump_share: float = 0.5,
    single_method_users: int = 100,
) -> dict[Key, dict[str, Any]]:
    """Every flag the rules raise on the submissions of exactly these periods, of active Kampung KB."""
    active = {k["id"] for k in rows.kampung if k["active"]}
    out: dict[Key, dict[str, Any]] = {}
    for s in rows.submissions:
        if s["period"] not in periods or s["kampung_id"] not in active:
            continue
        kampung, period, payload = s["kampung_id"], s["period"], s["payload"]
        if s["module"] == "kkbpk":
            now = counts(payload)
            history = sorted(
                (h["period"], counts(h["payload"]))
                for h in rows.submissions
                if h["kampung_id"] == kampung
                and h["module"] == "kkbpk"
                and months_before(period, 12) <= h["period"] < period
            )
            if len(history) >= min_history:
                for subject, value in now.items():
                    past = [c[subject] for _, c in history]
                    median = statistics.median(past)
                    mad = statistics.median(abs(v - median) for v in past)
                    z = 0.6745 * (value - median) / max(mad, 1)
                    if abs(z) > outlier_z and not min(past) <= value <= max(past):
                        out[(kampung, period, "kkbpk_outlier", subject)] = {
                            "value": value,
                            "median": median,
                            "mad": mad,
                            "min": min(past),
                            "max": max(past),
                            "history": [{"period": p.strftime("%Y-%m"), "value": c[subject]} for p, c in history],
                        }
            users = now["TOTAL"]
            methods = [code for code, n in payload["kb_users"].items() if n > 0]
            if len(methods) == 1 and users >= single_method_users:
                out[(kampung, period, "implausible_ratio", "single_method")] = {"value": users, "method": methods[0]}
            if users > 0 and sum(payload["non_users"].values()) == 0:
                out[(kampung, period, "implausible_ratio", "cpr_100")] = {"value": users}
        elif s["module"] == "kependudukan":
            earlier = [
                h
                for h in rows.submissions
                if h["kampung_id"] == kampung and h["module"] == "kependudukan" and h["period"] < period
            ]
            if not earlier:
                continue
            before = max(earlier, key=lambda h: h["period"])["payload"]
            for subject, value, previous in (
                ("pus", payload["pus"], before["pus"]),
                ("population", population(payload), population(before)),
            ):
                if value is None or previous is None:
                    continue
                if (value > 0) if previous == 0 else abs(value - previous) > jump_share * previous:
                    out[(kampung, period, "jump", subject)] = {"value": value, "previous": previous}
    return out
