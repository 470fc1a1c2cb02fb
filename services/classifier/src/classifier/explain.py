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
from classifier.ruleset import GROUP_NAMES, RuleSet


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


def _floors(raw: dict[str, Any], ruleset: RuleSet) -> dict[int, int] | None:
    """Input group: a Pokja not yet formed whose members or training are on record jumps past score 2."""
    if raw["pokja_exists"] is not False:
        return None
    latent = 1 + (raw["pokja_members"] > 0) + bool(raw["pokja_trained"])
    return {0: ruleset.tables.pokja[latent]} if latent > 1 else None


def next_tier(
    scores: dict[str, int], state: tuple[bool, bool, bool], raw: dict[str, Any], ruleset: RuleSet
) -> dict[str, Any] | None:
    """The cheapest plan to a higher tier as result data; None at the top or when no tier above is reachable."""
    t = ruleset.tables
    climbs = t.climbs[state]
    if not climbs:
        return None
    plans: list[Any] = [None, None, None]
    steps = [0, 0, 0]
    for k in range(3):
        if state[k]:
            continue
        current = [scores[n] for n in GROUP_NAMES[k][1]]
        plan = group_plan(current, t.caps[k], t.min_sums[k], _floors(raw, ruleset) if k == 0 else None)
        if plan is not None:
            plans[k] = plan
            steps[k] = sum(plan) - sum(current)
    best: Any = None
    for subset, new_tier, new_rank in climbs:
        cost = 0
        for k in subset:
            if plans[k] is None:
                break
            cost += steps[k]
        else:
            if best is None or (cost, new_rank) < best[0]:
                best = ((cost, new_rank), new_tier, subset)
    if best is None:
        return None
    (total, _), new_tier, subset = best
    actions = []
    for k in subset:
        for name, target in zip(GROUP_NAMES[k][1], plans[k], strict=True):
            if target != scores[name]:
                actions.append(phrase(name, scores[name], target, raw, ruleset))
    return {"tier": new_tier, "steps": total, "actions": actions}
