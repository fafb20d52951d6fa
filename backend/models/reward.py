"""有奖举报: reward rules, claims, the ledger and payouts. Money is integer fen everywhere."""

import enum
from datetime import date, datetime

from sqlalchemy import JSON, Date, Enum, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.extensions import db
from backend.models.case import Case
from backend.models.category import Category
from backend.models.types import UTCDateTime, utcnow


class RewardRule(db.Model):
    """How much a valid report of a category earns, when, and within which caps per citizen."""

    __tablename__ = "reward_rules"

    id: Mapped[int] = mapped_column(primary_key=True)
    category_id: Mapped[int] = mapped_column(ForeignKey("categories.id"), index=True)
    amount_fen: Mapped[int] = mapped_column(Integer)
    starts_on: Mapped[date | None] = mapped_column(Date)
    ends_on: Mapped[date | None] = mapped_column(Date)
    daily_cap_fen: Mapped[int | None] = mapped_column(Integer)  # per citizen, what claims may add up to
    monthly_cap_fen: Mapped[int | None] = mapped_column(Integer)
    first_reporter_only: Mapped[bool] = mapped_column(default=True)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    category: Mapped[Category] = relationship()


class ClaimStatus(enum.StrEnum):
    PENDING = "pending"  # 待审核
    HELD = "held"  # 暂缓: abuse signals over the configured limits, review with care
    APPROVED = "approved"  # granted, in the balance, not paid yet
    REJECTED = "rejected"  # with a reason the citizen sees
    IN_PAYOUT = "in_payout"  # in a payout batch, money on its way
    PAID = "paid"


class RewardClaim(db.Model):
    """One per closed valid case, for its reporter."""

    __tablename__ = "reward_claims"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    rule_id: Mapped[int] = mapped_column(ForeignKey("reward_rules.id"))
    amount_fen: Mapped[int] = mapped_column(Integer)
    status: Mapped[ClaimStatus] = mapped_column(
        Enum(ClaimStatus, native_enum=False, length=16), default=ClaimStatus.PENDING, index=True
    )
    signals: Mapped[list] = mapped_column(JSON, default=list)  # [{"code", "detail"}]
    decision_reason: Mapped[str] = mapped_column(Text, default="")  # the citizen sees it
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 - two admins deciding at once: one wins

    case: Mapped[Case] = relationship()
    rule: Mapped[RewardRule] = relationship()


class LedgerKind(enum.StrEnum):
    GRANTED = "granted"  # + when a claim is approved
    REVERSED = "reversed"  # − when an approved, unpaid claim is withdrawn
    PAID_OUT = "paid_out"  # − when the money reached the citizen (WeChat transfer or offline)


class LedgerEntry(db.Model):
    """Append-only: every change of money. A citizen's balance is the sum of their entries."""

    __tablename__ = "ledger_entries"
    __table_args__ = (UniqueConstraint("claim_id", "kind", name="uq_ledger_entries_claim_kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    claim_id: Mapped[int] = mapped_column(ForeignKey("reward_claims.id"))
    payout_item_id: Mapped[int | None] = mapped_column(ForeignKey("payout_items.id"))
    kind: Mapped[LedgerKind] = mapped_column(Enum(LedgerKind, native_enum=False, length=16))
    amount_fen: Mapped[int] = mapped_column(Integer)  # signed
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class PayoutMethod(enum.StrEnum):
    WECHAT = "wechat"  # WeChat Pay merchant transfer (商家转账)
    OFFLINE = "offline"  # paid by other means, recorded with a reference


class PayoutBatch(db.Model):
    __tablename__ = "payout_batches"

    id: Mapped[int] = mapped_column(primary_key=True)
    method: Mapped[PayoutMethod] = mapped_column(Enum(PayoutMethod, native_enum=False, length=16))
    created_by_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    reference: Mapped[str] = mapped_column(String(128), default="")  # offline: the finance voucher
    note: Mapped[str] = mapped_column(Text, default="")

    items: Mapped[list["PayoutItem"]] = relationship(back_populates="batch", order_by="PayoutItem.id")


class PayoutItemStatus(enum.StrEnum):
    PENDING = "pending"  # not sent yet
    IN_FLIGHT = "in_flight"  # WeChat accepted it; waiting (e.g. WAIT_USER_CONFIRM)
    SUCCESS = "success"
    FAILED = "failed"  # the claim is payable again in a later batch


class PayoutItem(db.Model):
    """One transfer. `out_bill_no` is our own number: WeChat pays it at most once, however often we retry."""

    __tablename__ = "payout_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("payout_batches.id"), index=True)
    claim_id: Mapped[int] = mapped_column(ForeignKey("reward_claims.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    out_bill_no: Mapped[str] = mapped_column(String(64), unique=True)
    amount_fen: Mapped[int] = mapped_column(Integer)
    status: Mapped[PayoutItemStatus] = mapped_column(
        Enum(PayoutItemStatus, native_enum=False, length=16), default=PayoutItemStatus.PENDING, index=True
    )
    wechat_state: Mapped[str | None] = mapped_column(String(32))
    transfer_bill_no: Mapped[str | None] = mapped_column(String(64))
    package_info: Mapped[str | None] = mapped_column(Text)  # for the mini-program's confirm-receipt page
    fail_reason: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 - a callback and a poll at once: one wins

    batch: Mapped[PayoutBatch] = relationship(back_populates="items")
    claim: Mapped[RewardClaim] = relationship()


class RewardSuspension(db.Model):
    """A citizen suspended from rewards, with a reason; lifting it keeps the record."""

    __tablename__ = "reward_suspensions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    reason: Mapped[str] = mapped_column(Text)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    lifted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    lifted_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
