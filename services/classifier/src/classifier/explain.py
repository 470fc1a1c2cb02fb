"""The cheapest way to the next tier: which sub-scores to raise, and how, phrased as Pokja actions.

Cost is the number of score steps (one step = one sub-score up by one). Groups share no indicator,
so a failing group's cheapest pass costs exactly the steps its sum lacks, and the plan is the set of
groups to pass that lifts the tier for the fewest steps. Ties go to the lower resulting tier (the
nearest step up), then to fewer groups, then input before proses before output. Inside a group the
steps go to the lowest sub-score first (a first step up is usually the easiest), ties in the official
indicator order. Scores the data cannot reach (sarana and PKB/regulasi stop at 3) are never planned.
"""

from itertools import product
from typing import Any

from classifier.actions import phrase
from classifier.ruleset import GROUP_NAMES, RuleSet, Tables


def group_plan(
    current: list[int], caps: tuple[int, ...], min_sum: int, floors: dict[int, int] | None = None
) -> list[int] | None:
    """Target sub-scores that bring the group's sum to `min_sum` in the fewest steps, or None if it cannot.

    Steps go one at a time to the lowest sub-score that can still rise, ties in the official order;
    this walks the levels upwards, which is the same thing. `floors` maps a position to the lowest
    score it can move to when raised at all (forming a Pokja whose members and training are already
    recorded lands on 3 or 4, not 2); such groups are searched exhaustively (a few dozen combinations).
    """
    if floors:
        return _search(current, caps, min_sum, floors)
    remaining = min_sum - sum(current)
    if remaining > sum(caps) - sum(current):
        return None
    planned = list(current)
    count = len(planned)
    level = min(planned)
    while remaining > 0:
        for k in range(count):
            if planned[k] == level and level < caps[k]:
                planned[k] += 1
                remaining -= 1
                if not remaining:
                    break
        level += 1
    return planned


def _search(current: list[int], caps: tuple[int, ...], min_sum: int, floors: dict[int, int]) -> list[int] | None:
    choices = [
        [now, *range(max(now + 1, floors.get(k, now + 1)), cap + 1)] if cap > now else [now]
        for k, (now, cap) in enumerate(zip(current, caps, strict=True))
    ]
    best: tuple[int, int, tuple[int, ...]] | None = None
    for combo in product(*choices):
        if sum(combo) >= min_sum:
            key = (sum(combo), max(combo), tuple(-c for c in combo))
            if best is None or key < best:
                best = key
    return None if best is None else [-c for c in best[2]]


def pokja_floor(exists: Any, members: Any, trained: Any, t: Tables) -> int | None:
    """The lowest score a Pokja not yet formed can be raised to, when its members or training are on record."""
    if exists is not False:
        return None
    latent = 1 + (members > 0) + bool(trained)
    return t.pokja[latent] if latent > 1 else None


_MISS: Any = object()
_CACHE_LIMIT = 100_000
"""Entries per memo (group plans, choices, action texts); the key spaces are far smaller for any real rule set."""

GroupPlan = tuple[int, tuple[tuple[str, int, int], ...]] | None
"""A failing group's cheapest pass: (steps, the (indicator, from, to) raises in indicator order); None: unreachable."""


def _group(t: Tables, k: int, current: tuple[int, ...], floor: int | None) -> GroupPlan:
    """`group_plan` of group `k`, memoised per rule set: it depends only on the group's sub-scores and the floor."""
    key = (k, current, floor)
    hit: GroupPlan = t.memo_groups.get(key, _MISS)
    if hit is _MISS:
        plan = group_plan(list(current), t.caps[k], t.min_sums[k], None if floor is None else {0: floor})
        if plan is None:
            hit = None
        else:
            names = GROUP_NAMES[k][1]
            raises = tuple(
                (names[i], now, to) for i, (now, to) in enumerate(zip(current, plan, strict=True)) if to != now
            )
            hit = (sum(plan) - sum(current), raises)
        if len(t.memo_groups) < _CACHE_LIMIT:
            t.memo_groups[key] = hit
    return hit


def _choose(t: Tables, state: tuple[bool, bool, bool], steps: tuple[int | None, ...]) -> Any:
    """The cheapest climb as (steps, tier reached, groups to pass), or None; memoised per (state, steps)."""
    key = (state, *steps)
    hit = t.memo_choices.get(key, _MISS)
    if hit is _MISS:
        best: Any = None
        for subset, new_tier, new_rank in t.climbs[state]:
            cost = 0
            for k in subset:
                if steps[k] is None:
                    break
                cost += steps[k]  # type: ignore[operator]
            else:
                if best is None or (cost, new_rank) < best[0]:
                    best = ((cost, new_rank), new_tier, subset)
        hit = None if best is None else (best[0][0], best[1], best[2])
        if len(t.memo_choices) < _CACHE_LIMIT:
            t.memo_choices[key] = hit
    return hit


def plan_next_tier(
    groups: tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]],
    state: tuple[bool, bool, bool],
    floor: int | None,
    raw: dict[str, Any],
    ruleset: RuleSet,
) -> dict[str, Any] | None:
    """`next_tier` from the three groups' sub-scores (indicator order) and the Pokja floor (see `pokja_floor`).

    The plan (which sub-scores to raise, to what) depends only on the sub-scores and is memoised per rule
    set; the actions are phrased from the raw measures each time.
    """
    t = ruleset.tables
    if not t.climbs[state]:
        return None
    plans: list[GroupPlan] = [None, None, None]
    steps: list[int | None] = [None, None, None]
    memo = t.memo_groups
    for k in (0, 1, 2):
        if not state[k]:
            plan = memo.get((k, groups[k], floor if k == 0 else None), _MISS)
            if plan is _MISS:
                plan = _group(t, k, groups[k], floor if k == 0 else None)
            if plan is not None:
                plans[k] = plan
                steps[k] = plan[0]
    chosen = t.memo_choices.get((state, *steps), _MISS)
    if chosen is _MISS:
        chosen = _choose(t, state, tuple(steps))
    if chosen is None:
        return None
    total, new_tier, subset = chosen
    actions = [phrase(name, now, to, raw, ruleset) for k in subset for name, now, to in plans[k][1]]
    return {"tier": new_tier, "steps": total, "actions": actions}


def next_tier(
    scores: dict[str, int], state: tuple[bool, bool, bool], raw: dict[str, Any], ruleset: RuleSet
) -> dict[str, Any] | None:
    """The cheapest plan to a higher tier as result data; None at the top or when no tier above is reachable."""
    groups = tuple(tuple(scores[n] for n in names) for _, names in GROUP_NAMES)
    floor = pokja_floor(raw["pokja_exists"], raw["pokja_members"], raw["pokja_trained"], ruleset.tables)
    return plan_next_tier(groups, state, floor, raw, ruleset)  # type: ignore[arg-type]
