"""Who acts: every transition is signed by an actor (谁画押谁负责)."""

from dataclasses import dataclass

from backend.models import ActorKind, StaffRole


@dataclass(frozen=True)
class Actor:
    kind: ActorKind
    user_id: int | None = None
    staff_id: int | None = None
    role: StaffRole | None = None
    unit_id: int | None = None

    @classmethod
    def system(cls) -> "Actor":
        return cls(ActorKind.SYSTEM)

    @classmethod
    def citizen(cls, user_id: int) -> "Actor":
        return cls(ActorKind.CITIZEN, user_id=user_id)

    @classmethod
    def staff(cls, staff_id: int, role: StaffRole, unit_id: int | None) -> "Actor":
        return cls(ActorKind.STAFF, staff_id=staff_id, role=role, unit_id=unit_id)

    @property
    def is_dispatcher(self) -> bool:
        return self.role in (StaffRole.DISPATCHER, StaffRole.ADMIN)

    @property
    def is_unit_staff(self) -> bool:
        return self.role == StaffRole.UNIT_STAFF and self.unit_id is not None
