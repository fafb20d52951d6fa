"""The console's navigation. A page module adds its entries; the base layout shows those the staff's role may open.

add_entry("console.unit_queue", "我的案件", (StaffRole.UNIT_STAFF,), order=10)
"""

from dataclasses import dataclass

from backend.models import StaffRole


@dataclass(frozen=True)
class NavEntry:
    endpoint: str
    label: str
    roles: tuple[StaffRole, ...]
    order: int


_ENTRIES: list[NavEntry] = []


def add_entry(endpoint: str, label: str, roles: tuple[StaffRole, ...], order: int = 100) -> None:
    if not any(entry.endpoint == endpoint for entry in _ENTRIES):
        _ENTRIES.append(NavEntry(endpoint, label, tuple(roles), order))
        _ENTRIES.sort(key=lambda entry: (entry.order, entry.endpoint))


def entries_for(role: StaffRole) -> list[NavEntry]:
    return [entry for entry in _ENTRIES if role in entry.roles]


def home_endpoint(role: StaffRole) -> str | None:
    """The first page of a role: where login and /console lead."""
    mine = entries_for(role)
    return mine[0].endpoint if mine else None
