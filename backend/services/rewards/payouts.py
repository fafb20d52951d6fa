"""Paying rewards: batches of approved claims, paid by WeChat Pay merchant transfer or offline.

Never twice: each item has its own out_bill_no, which WeChat pays at most once however often we
send it; the ledger has one paid_out entry per claim (unique constraint). Never lost: a failed
transfer puts its claim back to approved, to be paid in a later batch.
"""

import json

from flask import current_app
from sqlalchemy.orm import selectinload

from backend.clients import wechat_pay
from backend.errors import Conflict, ValidationFailed
from backend.extensions import db
from backend.models import (
    Case,
    Category,
    ClaimStatus,
    LedgerEntry,
    LedgerKind,
    PayoutBatch,
    PayoutItem,
    PayoutItemStatus,
    PayoutMethod,
    RewardClaim,
    User,
)
from backend.models.types import local_month, utcnow
from backend.schemas.common import local_iso
from backend.services.actors import Actor
from backend.services.exports import csv_text
from backend.services.lookup import get_or_404
from backend.services.paging import paginate
from backend.services.responsibility import audit
from backend.services.rewards import claims as reward_claims
from workers.queues import PAYOUTS, JobRequest, enqueue_after_commit

SEND_PAYOUT_ITEM = "workers.jobs.payouts.send_payout_item"
SUCCESS_STATES = {"SUCCESS"}
FAILED_STATES = {"FAIL", "CANCELLED"}


def send_job(item_id: int) -> JobRequest:
    return JobRequest(PAYOUTS, SEND_PAYOUT_ITEM, (item_id,), f"send-payout-item-{item_id}")


def create_batch(actor: Actor, method: PayoutMethod, claim_ids: list[int] | None, note: str) -> PayoutBatch:
    """A batch of approved claims (the given ones, or every approved one).

    A wechat batch needs WeChat Pay set up: without it the sends could never succeed, and its claims would wait
    in_payout for a setting nobody plans to make. A setting that exists but cannot be read right now (a key file
    not mounted yet) is another matter: those sends stay pending and are retried (send)."""
    if method == PayoutMethod.WECHAT and (missing := wechat_pay.missing_settings(current_app.config)):
        raise Conflict(
            f"微信支付商家转账未配置（缺少 {'、'.join(missing)}），请配置后再发起，或改用线下发放（offline）",
            code="wechat_pay_not_configured",
        )
    query = db.select(RewardClaim).where(RewardClaim.status == ClaimStatus.APPROVED)
    if claim_ids:
        query = query.where(RewardClaim.id.in_(claim_ids))
    claims = db.session.scalars(query.order_by(RewardClaim.id)).all()
    if claim_ids and len(claims) != len(set(claim_ids)):
        missing = sorted(set(claim_ids) - {c.id for c in claims})
        raise ValidationFailed(fields={"claim_ids": [f"申领 {i} 不存在或未批准" for i in missing]})
    if not claims:
        raise ValidationFailed(fields={"claim_ids": ["没有可支付的已批准申领"]})
    batch = PayoutBatch(method=method, created_by_id=actor.staff_id, note=note)
    db.session.add(batch)
    db.session.flush()
    for claim in claims:
        claim.status = ClaimStatus.IN_PAYOUT
        item = PayoutItem(
            batch_id=batch.id,
            claim_id=claim.id,
            user_id=claim.user_id,
            amount_fen=claim.amount_fen,
            out_bill_no=f"SSP{batch.id:08d}C{claim.id:010d}",
        )
        db.session.add(item)
        db.session.flush()
        if method == PayoutMethod.WECHAT:
            enqueue_after_commit(db.session, send_job(item.id))
    db.session.flush()
    return batch


def get_batch(batch_id: int) -> PayoutBatch:
    return get_or_404(PayoutBatch, batch_id, "支付批次不存在", "batch_not_found")


def list_batches(page: int, per_page: int) -> dict:
    return paginate(
        db.select(PayoutBatch), page, per_page, PayoutBatch.id.desc(), options=(selectinload(PayoutBatch.items),)
    )


def _paid(item: PayoutItem, note: str, actor: Actor | None = None) -> None:
    item.status = PayoutItemStatus.SUCCESS
    item.claim.status = ClaimStatus.PAID
    reward_claims.record_ledger_entry(item.claim, LedgerKind.PAID_OUT, -item.amount_fen, actor, note, item.id)


def apply_state(item: PayoutItem, result: "wechat_pay.TransferResult") -> PayoutItem:
    """What WeChat says about a transfer (answer, poll or callback). Settled items never change again."""
    if item.status in (PayoutItemStatus.SUCCESS, PayoutItemStatus.FAILED):
        return item
    item.wechat_state = result.state
    item.transfer_bill_no = result.transfer_bill_no or item.transfer_bill_no
    item.package_info = result.package_info or item.package_info
    if result.state in SUCCESS_STATES:
        _paid(item, f"微信转账 {item.transfer_bill_no or item.out_bill_no}")
    elif result.state in FAILED_STATES:
        item.status = PayoutItemStatus.FAILED
        item.fail_reason = result.fail_reason or result.state
        item.claim.status = ClaimStatus.APPROVED  # payable again in a later batch
    else:
        item.status = PayoutItemStatus.IN_FLIGHT
    db.session.flush()
    return item


def _client() -> "wechat_pay.WeChatPayClient":
    return wechat_pay.client_from_config(current_app.config)


def send(item_id: int) -> PayoutItem | None:
    """The transfer of one item. Re-sending is safe: WeChat answers the same bill for the same out_bill_no."""
    item = db.session.get(PayoutItem, item_id)
    if item is None or item.status != PayoutItemStatus.PENDING:
        return item
    item.attempts += 1
    openid = db.session.get(User, item.user_id).openid
    config = current_app.config
    try:
        result = _client().create_transfer(
            out_bill_no=item.out_bill_no,
            openid=openid,
            amount_fen=item.amount_fen,
            remark=config["WECHATPAY_TRANSFER_REMARK"],
            scene_id=config["WECHATPAY_TRANSFER_SCENE_ID"],
            scene_report_infos=json.loads(config["WECHATPAY_SCENE_REPORT_INFOS"]),
            notify_url=config.get("WECHATPAY_NOTIFY_URL") or None,
        )
    except ValueError as exc:
        # refused before anything was sent (e.g. no transfer scene configured): nothing can have been paid
        return apply_state(item, wechat_pay.TransferResult(item.out_bill_no, None, "FAIL", None, str(exc), {}))
    except wechat_pay.WeChatPayError as exc:
        # WeChat's docs: an error answer does not prove that no bill was made. Keep this out_bill_no in
        # flight until a query says FAIL/CANCELLED or that the bill does not exist; only then may the
        # claim be paid under a new number.
        item.status = PayoutItemStatus.IN_FLIGHT
        item.wechat_state = "UNKNOWN"
        item.fail_reason = f"{exc.code}: {exc.message}"
        db.session.flush()
        return item
    return apply_state(item, result)


def poll_in_flight(limit: int = 200) -> int:
    """Ask WeChat about transfers still on their way (e.g. waiting for the citizen to confirm receipt).
    Least recently asked first, so transfers that stay unsettled cannot crowd out the others."""
    items = db.session.scalars(
        db.select(PayoutItem)
        .where(PayoutItem.status == PayoutItemStatus.IN_FLIGHT)
        .order_by(PayoutItem.updated_at, PayoutItem.id)
        .limit(limit)
    ).all()
    client = _client() if items else None
    settled = 0
    for item in items:
        item.updated_at = utcnow()
        try:
            result = client.query_transfer(item.out_bill_no)
        except wechat_pay.TransferNotFound:
            # WeChat never accepted it (no bill number): nothing was or will be paid
            known = item.transfer_bill_no is not None
            result = (
                None
                if known
                else wechat_pay.TransferResult(item.out_bill_no, None, "FAIL", None, "微信支付没有该单据", {})
            )
        except (wechat_pay.WeChatPayUnavailable, wechat_pay.WeChatPayError, wechat_pay.WeChatPaySignatureError):
            result = None
        if result is not None and apply_state(item, result).status != PayoutItemStatus.IN_FLIGHT:
            settled += 1
        db.session.commit()
    return settled


def handle_callback(headers, body: bytes) -> PayoutItem | None:
    """WeChat's notification of a bill's final state: verified, decrypted, applied."""
    bill = _client().parse_callback(headers, body)
    item = db.session.scalar(db.select(PayoutItem).where(PayoutItem.out_bill_no == bill.get("out_bill_no")))
    if item is None:
        return None
    return apply_state(item, wechat_pay.TransferResult.from_bill(bill))


def mark_offline_paid(batch: PayoutBatch, reference: str, actor: Actor) -> PayoutBatch:
    if batch.method != PayoutMethod.OFFLINE:
        raise Conflict("微信转账批次不能标记为线下支付", code="not_offline_batch")
    pending = [item for item in batch.items if item.status == PayoutItemStatus.PENDING]
    if not pending:
        raise Conflict("该批次已全部支付", code="batch_settled")
    batch.reference = reference
    for item in pending:
        _paid(item, "线下支付", actor)  # the voucher stays on the batch: citizens read ledger notes
    db.session.flush()
    return batch


def export_csv(batch: PayoutBatch, actor: Actor) -> str:
    """For finance: one row per transfer. The openids identify the payees, so the export is audited.
    One query for every row, however many; every cell formula-safe (services/exports.py)."""
    rows = db.session.execute(
        db.select(PayoutItem, RewardClaim.case_id, User.openid)
        .join(RewardClaim, RewardClaim.id == PayoutItem.claim_id)
        .join(User, User.id == PayoutItem.user_id)
        .where(PayoutItem.batch_id == batch.id)
        .order_by(PayoutItem.id)
    ).all()
    audit.record_access(actor, "user", None, {"purpose": f"导出支付批次 {batch.id}", "payees": len(rows)})
    header = [
        "batch",
        "out_bill_no",
        "claim",
        "case",
        "citizen",
        "openid",
        "amount_yuan",
        "status",
        "wechat_state",
        "transfer_bill_no",
        "fail_reason",
        "reference",
    ]
    return csv_text(
        header,
        (
            [
                batch.id,
                item.out_bill_no,
                item.claim_id,
                case_id,
                item.user_id,
                openid,
                f"{item.amount_fen / 100:.2f}",
                item.status.value,
                item.wechat_state,
                item.transfer_bill_no,
                item.fail_reason,
                batch.reference,
            ]
            for item, case_id, openid in rows
        ),
    )


def figures() -> dict:
    """Claims by status; yuan granted and paid by month and by category. Summed by the database: a few rows
    come back however long the ledger is."""
    by_status = dict(
        db.session.execute(
            db.select(RewardClaim.status, db.func.count(RewardClaim.id)).group_by(RewardClaim.status)
        ).all()
    )
    paid_out = LedgerEntry.kind == LedgerKind.PAID_OUT
    granted_fen = db.func.coalesce(db.func.sum(db.case((paid_out, 0), else_=LedgerEntry.amount_fen)), 0)
    paid_fen = db.func.coalesce(db.func.sum(db.case((paid_out, -LedgerEntry.amount_fen), else_=0)), 0)
    month = local_month(LedgerEntry.created_at)
    by_month = db.session.execute(db.select(month, granted_fen, paid_fen).group_by(month).order_by(month)).all()
    by_category = db.session.execute(
        db.select(Category.name, granted_fen, paid_fen)
        .select_from(LedgerEntry)
        .join(RewardClaim, RewardClaim.id == LedgerEntry.claim_id)
        .join(Case, Case.id == RewardClaim.case_id)
        .join(Category, Category.id == Case.category_id)
        .group_by(Category.name)
    ).all()
    return {
        "claims_by_status": {str(status): count for status, count in by_status.items()},
        "by_month": [{"month": m, "granted_fen": int(g), "paid_fen": int(p)} for m, g, p in by_month],
        "by_category": [
            {"category": name, "granted_fen": int(g), "paid_fen": int(p)} for name, g, p in sorted(by_category)
        ],
        "generated_at": local_iso(utcnow()),
    }
