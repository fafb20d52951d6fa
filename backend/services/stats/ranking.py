"""The composite score (综合得分) per unit, the ranking, and the red and black lists (红榜、黑榜) of a 通报.

score = 100 × Σ wᵢ·vᵢ / Σ wᵢ over the indicators a unit has data for, where vᵢ is the rate, or 1 − rate
for the indicators where lower is better (返工率, 退单率). Units with fewer than STATS_RANK_MIN_CASES
派遣 (received + returned) in the period are not ranked. Equal scores share a rank (1, 2, 2, 4).
"""

from datetime import datetime

from flask import current_app

from backend.services.stats import figures
from backend.services.stats.periods import Period

LOWER_IS_BETTER = {"rework_rate", "returned_rate"}


def score(row: dict, weights: dict[str, float]) -> float | None:
    weighted = total = 0.0
    for name, weight in weights.items():
        value = row.get(name)
        if value is None or weight <= 0:
            continue
        weighted += weight * ((1 - value) if name in LOWER_IS_BETTER else value)
        total += weight
    return round(100 * weighted / total, 2) if total else None


def rank_rows(rows: dict[int, dict], weights: dict[str, float], min_cases: int) -> list[dict]:
    """Rows (unit id → figures) ranked best first; each gets `unit_id`, `score` and `rank`."""
    ranked = []
    for unit_id, row in rows.items():
        value = score(row, weights)
        if unit_id is None or value is None or row["assigned"] < max(min_cases, 1):
            continue
        ranked.append({"unit_id": unit_id, "score": value, **row})
    ranked.sort(key=lambda r: (-r["score"], -(r["handled_on_time_rate"] or 0), r["unit_id"]))
    for position, row in enumerate(ranked, start=1):
        previous = ranked[position - 2] if position > 1 else None
        row["rank"] = previous["rank"] if previous and previous["score"] == row["score"] else position
    return ranked


def lists(ranked: list[dict], size: int) -> tuple[list[dict], list[dict]]:
    """红榜 (the best `size`) and 黑榜 (the worst `size`, worst first); never overlapping."""
    count = min(size, len(ranked) // 2)
    if count <= 0:
        return [], []
    return ranked[:count], list(reversed(ranked[-count:]))


def ranking(period: Period, scope: figures.Filters, as_of: datetime) -> dict:
    config = current_app.config
    weights = config["STATS_SCORE_WEIGHTS"]
    rows = figures.grouped(period, "unit", scope, as_of)
    ranked = rank_rows(rows, weights, config["STATS_RANK_MIN_CASES"])
    names = figures.labels("unit", [row["unit_id"] for row in ranked])
    for row in ranked:
        row["unit"] = names[row["unit_id"]]
    red, black = lists(ranked, config["STATS_LIST_SIZE"])
    return {
        "period": period.as_dict(),
        "as_of": as_of,
        "weights": weights,
        "items": ranked,
        "red_list": red,
        "black_list": black,
        "unranked": sorted(uid for uid in rows if uid is not None and uid not in {r["unit_id"] for r in ranked}),
    }


def unit_view(unit_id: int, period: Period, scope: figures.Filters, as_of: datetime) -> dict:
    """A unit's own figures and its place in the district ranking (the ranking is always district-wide
    for the period and category, so every unit is compared with the same others)."""
    board = ranking(period, scope, as_of)
    mine = next((row for row in board["items"] if row["unit_id"] == unit_id), None)
    own = figures.grouped(period, "unit", figures.Filters(scope.category_ids, scope.region_ids, unit_id), as_of)
    row = own.get(unit_id) or figures.total([])
    return {
        "period": board["period"],
        "as_of": as_of,
        "unit": figures.labels("unit", [unit_id])[unit_id],
        "figures": row,
        "score": mine["score"] if mine else figures_score(row),
        "rank": mine["rank"] if mine else None,
        "ranked_units": len(board["items"]),
    }


def figures_score(row: dict) -> float | None:
    return score(row, current_app.config["STATS_SCORE_WEIGHTS"])
