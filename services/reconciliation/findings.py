"""What reconciliation finds: discrepancies between stock figures and the committed ledger.

Detection is a few set-based queries (database/repositories/reconciliation.py); each finding has
a fingerprint that names the discrepancy across runs, which is what makes "new" and "alert
once" work, and the fix that applying would make (or none: left for an admin).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Collection
from dataclasses import dataclass, field, replace
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from core.enums import DiscrepancyKind, ReconciliationAction
from database.repositories.reconciliation import Movement, ReconciliationRepository

FIX = ReconciliationAction
K = DiscrepancyKind


@dataclass(frozen=True)
class Finding:
    kind: DiscrepancyKind
    item_id: int
    sku: str
    fingerprint: str
    action: ReconciliationAction
    expected: int | None = None
    actual: int | None = None
    transaction_id: int | None = None
    detail: str = ""
    is_new: bool = True

    @property
    def needs_admin(self) -> bool:
        return self.action is FIX.LEAVE_FOR_ADMIN

    @property
    def signature(self) -> str:
        """The fingerprint with the figures shown: what a confirmation binds a fix to."""
        return f"{self.fingerprint}|{self.expected}|{self.actual}|{self.action.value}"


@dataclass
class Report:
    applied: bool
    findings: list[Finding] = field(default_factory=list)
    run_id: int | None = None
    resolved: int = 0  # open findings that are gone now (applied runs only)
    # Applying a confirmed preview: previewed findings gone by now (skipped), and findings
    # not previewed (or changed since) that were therefore left alone.
    vanished: int = 0
    unseen: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.vanished or self.unseen)

    def by_kind(self) -> Counter[DiscrepancyKind]:
        return Counter(f.kind for f in self.findings)

    def by_action(self) -> Counter[ReconciliationAction]:
        return Counter(f.action for f in self.findings)

    @property
    def fixes(self) -> int:
        return sum(1 for f in self.findings if not f.needs_admin)

    @property
    def needs_admin(self) -> int:
        return sum(1 for f in self.findings if f.needs_admin)

    @property
    def new_for_admin(self) -> int:
        return sum(1 for f in self.findings if f.needs_admin and f.is_new)


@dataclass(frozen=True)
class Override:
    item_id: int
    sku: str
    ledger_balance: int
    counted: int
    adjustment: int
    transaction_id: int | None


async def detect(
    session: AsyncSession, item_ids: Collection[int] | None, *, pending_before: datetime
) -> list[Finding]:
    """Every discrepancy of these items (None: all), new ones marked `is_new`."""
    repo = ReconciliationRepository(session)
    findings: list[Finding] = []
    orphans = await repo.orphans(item_ids)
    orphan_ids = {m.id for m in orphans}
    for m in orphans:
        missing = m.request_status is None
        findings.append(
            Finding(
                kind=K.ORPHAN_MISSING_REQUEST if missing else K.ORPHAN_CLOSED_REQUEST,
                item_id=m.item_id,
                sku=m.sku,
                fingerprint=f"orphan:tx:{m.id}",
                action=FIX.REVERSE_MOVEMENT,
                actual=m.quantity,
                transaction_id=m.id,
                detail=f"request #{m.request_id} "
                + ("does not exist" if missing else f"is {m.request_status}"),
            )
        )
    findings += _duplicates(
        [m for m in await repo.duplicate_issues(item_ids) if m.id not in orphan_ids]
    )
    for m in await repo.stale_pending(pending_before, item_ids):
        findings.append(
            Finding(
                kind=K.STALE_PENDING,
                item_id=m.item_id,
                sku=m.sku,
                fingerprint=f"stale_pending:tx:{m.id}",
                action=FIX.LEAVE_FOR_ADMIN,
                actual=m.quantity,
                transaction_id=m.id,
                detail=f"pending since {m.created_at:%Y-%m-%d %H:%M} UTC",
            )
        )
    reversals: defaultdict[int, int] = defaultdict(int)
    for f in findings:
        if f.action is FIX.REVERSE_MOVEMENT and f.actual is not None:
            reversals[f.item_id] -= f.actual
    for item_id, sku, stock, balance in await repo.balances(item_ids, reversals.keys()):
        if stock != balance:
            findings.append(
                Finding(
                    kind=K.STOCK_MISMATCH,
                    item_id=item_id,
                    sku=sku,
                    fingerprint=f"stock_mismatch:item:{item_id}",
                    action=FIX.RECOMPUTE_STOCK,
                    expected=int(balance),
                    actual=stock,
                )
            )
        after = int(balance) + reversals[item_id]
        if after < 0:
            findings.append(
                Finding(
                    kind=K.NEGATIVE_STOCK,
                    item_id=item_id,
                    sku=sku,
                    fingerprint=f"negative_stock:item:{item_id}",
                    action=FIX.LEAVE_FOR_ADMIN,
                    expected=0,
                    actual=after,
                )
            )
    opened = {r.fingerprint for r in await repo.open_findings(item_ids)}
    findings = [replace(f, is_new=f.fingerprint not in opened) for f in findings]
    return sorted(findings, key=lambda f: (f.item_id, list(K).index(f.kind), f.fingerprint))


def scope(item_id: int | None) -> list[int] | None:
    return None if item_id is None else [item_id]


def _duplicates(rows: list[Movement]) -> list[Finding]:
    """Extra issue rows of one request line: reversing them is safe when every row is exactly
    the line's quantity (a double commit); otherwise nobody can tell which one is right."""
    by_line: defaultdict[int, list[Movement]] = defaultdict(list)
    for m in rows:
        assert m.request_item_id is not None
        by_line[m.request_item_id].append(m)
    findings = []
    for line, group in by_line.items():
        if len(group) < 2:
            continue
        first, extra = group[0], group[1:]
        exact = first.line_quantity is not None and all(
            m.quantity == -first.line_quantity for m in group
        )
        if exact:
            findings += [
                Finding(
                    kind=K.DUPLICATE_MOVEMENT,
                    item_id=m.item_id,
                    sku=m.sku,
                    fingerprint=f"duplicate:tx:{m.id}",
                    action=FIX.REVERSE_MOVEMENT,
                    expected=first.quantity,
                    actual=m.quantity,
                    transaction_id=m.id,
                    detail=f"request line {line} already issued by movement #{first.id}",
                )
                for m in extra
            ]
        else:
            findings.append(
                Finding(
                    kind=K.DUPLICATE_MOVEMENT,
                    item_id=first.item_id,
                    sku=first.sku,
                    fingerprint=f"duplicate:line:{line}",
                    action=FIX.LEAVE_FOR_ADMIN,
                    expected=-first.line_quantity if first.line_quantity else None,
                    actual=sum(m.quantity for m in group),
                    transaction_id=first.id,
                    detail="movements " + ", ".join(f"#{m.id} ({m.quantity:+d})" for m in group),
                )
            )
    return findings
