"""Inventory items: browsing, and the operator's CSV import (all rows or none)."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.clock import Clock
from core.enums import TransactionKind, TransactionStatus
from database.models import InventoryItem, InventoryTransaction
from database.repositories.inventory import InventoryRepository
from services.transactions import Change, TransactionalStateManager
from utils.digits import INT_MAX, is_digits, whole_number

REQUIRED_COLUMNS = ("sku", "name")
OPTIONAL_COLUMNS = ("unit", "stock")
MAX_IMPORT_BYTES = 20 * 1024 * 1024
MAX_STOCK = INT_MAX  # the stock figure and its ledger movement


class ImportFailed(Exception):
    """The file cannot be imported; `errors` lists every problem with its line number."""

    def __init__(self, errors: list[str]) -> None:
        self.errors = errors
        super().__init__("\n".join(errors))


@dataclass(frozen=True)
class ImportRow:
    line: int
    sku: str
    name: str
    unit: str | None
    stock: int | None


@dataclass
class ImportResult:
    created: int = 0
    updated: int = 0
    stock_changes: list[tuple[str, int]] = field(default_factory=list)


# column -> (required, longest allowed)
TEXT_LIMITS = {"sku": (True, 64), "name": (True, 256), "unit": (False, 16)}


def _field_problems(values: dict[str, str]) -> tuple[list[str], int | None]:
    """What is wrong with one row's fields, and its stock figure if it has a good one."""
    problems = []
    for column, (required, limit) in TEXT_LIMITS.items():
        value = values.get(column, "")
        if required and not value:
            problems.append(f"{column} is empty")
        elif len(value) > limit:
            problems.append(f"{column} is longer than {limit} characters")
    raw = values.get("stock", "")
    if not raw:
        return problems, None
    # ASCII digits only: int() would also take "1_000", "+5" and other scripts' digits.
    if raw.startswith("-") and is_digits(raw[1:]):
        problems.append("stock cannot be negative")
        return problems, None
    if not is_digits(raw):
        problems.append(f"stock {_cut(raw)!r} is not a whole number")
        return problems, None
    stock = whole_number(raw, MAX_STOCK)
    if stock is None:
        problems.append(f"stock {_cut(raw)} is more than {MAX_STOCK}")
    return problems, stock


def _cut(value: str, limit: int = 24) -> str:
    """A value as an error line quotes it: a 5,000-digit figure would drown the line."""
    return value if len(value) <= limit else value[:limit] + "…"


def parse_items_csv(text: str) -> list[ImportRow]:
    """Validate the whole file first so that a bad row stops the import before any write."""
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip().lower() for h in (reader.fieldnames or [])]
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise ImportFailed(
            [
                f"line 1: missing column(s) {', '.join(missing)}; the header must name "
                f"{', '.join(REQUIRED_COLUMNS)} and may add {', '.join(OPTIONAL_COLUMNS)}"
            ]
        )
    unknown = [h for h in header if h not in REQUIRED_COLUMNS + OPTIONAL_COLUMNS]
    if unknown:
        raise ImportFailed([f"line 1: unknown column(s) {', '.join(unknown)}"])
    reader.fieldnames = header
    rows: list[ImportRow] = []
    errors: list[str] = []
    seen: dict[str, int] = {}
    for record in reader:
        line = reader.line_num
        if None in record:
            errors.append(f"line {line}: more fields than the header has")
            continue
        values = {k: (v or "").strip() for k, v in record.items()}
        if not any(values.values()):
            continue
        sku, name = values.get("sku", ""), values.get("name", "")
        unit = values.get("unit") or None
        problems, stock = _field_problems(values)
        if sku in seen:
            problems.append(f"sku {sku!r} already appears on line {seen[sku]}")
        elif sku:
            seen[sku] = line
        if problems:
            errors.append(f"line {line}: {'; '.join(problems)}")
        else:
            rows.append(ImportRow(line, sku, name, unit, stock))
    if errors:
        raise ImportFailed(errors)
    if not rows:
        raise ImportFailed(["the file has no item rows"])
    return rows


class InventoryService:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        tx: TransactionalStateManager,
        clock: Clock,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.tx = tx
        self.clock = clock

    async def page(self, page: int, size: int) -> tuple[Sequence[InventoryItem], int]:
        async with self.sessionmaker() as session:
            return await InventoryRepository(session).active_page(page * size, size)

    async def get(self, item_id: int) -> InventoryItem | None:
        async with self.sessionmaker() as session:
            return await InventoryRepository(session).by_id(item_id)

    async def import_file(self, path: Path) -> ImportResult:
        try:
            if path.stat().st_size > MAX_IMPORT_BYTES:
                raise ImportFailed([f"{path}: larger than {MAX_IMPORT_BYTES} bytes"])
            text = path.read_text(encoding="utf-8-sig")
        except FileNotFoundError:
            raise ImportFailed([f"{path}: file not found"]) from None
        except UnicodeDecodeError:
            raise ImportFailed([f"{path}: not UTF-8 text"]) from None
        except OSError as exc:
            raise ImportFailed([f"{path}: cannot read it: {exc.strerror}"]) from None
        try:
            rows = parse_items_csv(text)
        except csv.Error as exc:
            raise ImportFailed([f"{path}: not a readable CSV file: {exc}"]) from None
        return await self.import_rows(rows)

    async def import_rows(self, rows: list[ImportRow]) -> ImportResult:
        """Create or update items; a stock figure becomes a ledger movement, never a bare edit."""
        now = self.clock.now()

        async def work(change: Change) -> ImportResult:
            result = ImportResult()
            session = change.session
            repo = InventoryRepository(session)
            existing = await repo.by_skus([r.sku for r in rows])
            balances = await repo.ledger_balances([i.id for i in existing.values()])
            for row in rows:
                item = existing.get(row.sku)
                is_new = item is None
                if item is None:
                    item = InventoryItem(
                        sku=row.sku,
                        name=row.name,
                        unit=row.unit or "pcs",
                        stock=0,
                        is_active=True,
                        created_at=now,
                        updated_at=now,
                    )
                    session.add(item)
                    await session.flush()
                    result.created += 1
                else:
                    item.name, item.updated_at, item.is_active = row.name, now, True
                    if row.unit:
                        item.unit = row.unit
                    result.updated += 1
                # The counted figure is booked against the ledger, not the cached figure,
                # which may have drifted (reconciliation's business, not the import's).
                balance = balances.get(item.id, 0)
                delta = 0 if row.stock is None else row.stock - balance
                if abs(delta) > MAX_STOCK:
                    # A large figure against a negative ledger balance: the movement itself
                    # would not fit the column. Nothing is imported (one transaction).
                    raise ImportFailed(
                        [
                            f"line {row.line}: stock {row.stock} against the ledger's "
                            f"{balance} is a movement of {delta}, more than {MAX_STOCK}"
                        ]
                    )
                if row.stock is not None:
                    item.stock = row.stock
                if delta:
                    kind = TransactionKind.RECEIPT if is_new else TransactionKind.ADJUSTMENT
                    repo.add_transaction(
                        InventoryTransaction(
                            item_id=item.id,
                            kind=kind,
                            quantity=delta,
                            status=TransactionStatus.COMMITTED,
                            reason="items import",
                            created_at=now,
                            committed_at=now,
                        )
                    )
                    result.stock_changes.append((row.sku, delta))
            change.after = {
                "created": result.created,
                "updated": result.updated,
                "stock_changes": dict(result.stock_changes),
            }
            return result

        return await self.tx.run("import_items", "inventory", work)
