"""One simulated working day with seeded faults, and its report.

The loop advances simulated time by a tick (1 s while an incident is being recovered from,
5 s otherwise); each tick the people act, the app polls, runs its due jobs and drains its
outbox, and each open incident is checked against the database and the local Bot API."""

from __future__ import annotations

import asyncio
import logging
import random
from datetime import timedelta
from pathlib import Path

from sqlalchemy.exc import DBAPIError

from core.enums import Role
from database.migrate import upgrade
from services.inventory import ImportRow
from simulators.chaos import audit
from simulators.chaos.faults import LEFT_OUT, SQLITE_LEFT_OUT, STARTED_HERE, end_fault, plan
from simulators.chaos.inject import CORRUPTED_SKU, inject
from simulators.chaos.model import NEEDS_PERSON, Incident, Report
from simulators.chaos.people import (
    ADMIN,
    EVERYONE,
    ITEMS,
    KEEPERS,
    MANAGERS,
    PROBE,
    REQUESTERS,
    People,
    answered,
)
from simulators.chaos.report_checks import DayEnd, finish
from simulators.chaos.setup import (
    TOKEN,
    chaos_settings,
    drop_scratch,
    scratch_database,
    workflow_file,
)
from simulators.chaos.simclock import SimClock
from simulators.chaos.world import World
from simulators.local_api import LocalBotAPI
from simulators.local_api.calllog import KEEP, CallLog

logger = logging.getLogger(__name__)
DRAIN_SECONDS = 1800.0  # after the day (at most half a day): no new work, the bot catches up
WINDOW = 60.0  # updates pushed this long before an incident count as touched by it


class Run:
    def __init__(self, seed: int, requests: int, hours: float, folder: Path, url: str | None):
        self.seed, self.requests, self.hours, self.folder, self.url = (
            seed,
            requests,
            hours,
            folder,
            url,
        )
        self.sim = SimClock()
        self.rng_faults = random.Random(f"faults:{seed}")
        self.rng_people = random.Random(f"people:{seed}")
        self.initial = {sku: stock for sku, _, stock in ITEMS}
        self.probe_mark: int | None = None

    async def execute(self) -> Report:
        self.folder.mkdir(parents=True, exist_ok=True)
        scratch = await scratch_database(self.folder, self.url, self.seed)
        self.db = scratch.db
        await asyncio.to_thread(upgrade, scratch.direct_url)
        workflows, self.stuck_seconds = workflow_file(self.folder, self.hours)
        settings = chaos_settings(self.folder, scratch.db.app_url, workflows)
        self.api = LocalBotAPI(TOKEN)
        # The audit reads every call of the day: about 70 a request at the defaults (8,323 for
        # 120). One that outgrew this fails with CallsDropped, never reports on half its calls.
        self.api.calls = CallLog(keep=max(KEEP, 1_000 * self.requests))
        self.api.clock = self.sim.monotonic
        await self.api.start()
        self.world = World(settings, self.sim, self.api, scratch.db, seed=self.seed)
        self.people = People(self.api, self.rng_people, lambda: self.sim.seconds)
        # People decide well within the stuck threshold: only the silent get stuck.
        self.people.max_delay = self.stuck_seconds / 2
        left_out = dict(LEFT_OUT, **(SQLITE_LEFT_OUT if self.db.engine_name == "sqlite" else {}))
        self.report = Report(self.seed, self.db.engine_name, self.hours, self.requests, left_out)
        try:
            await self.world.boot()
            await self.prepare()
            await self.day()
            await self.audit()
        finally:
            await self.world.shutdown()
            await self.api.close()
            await drop_scratch(scratch)
        return self.report

    async def tick(self, seconds: float = 1.0) -> None:
        await self.world.tick(seconds)

    async def prepare(self) -> None:
        for user in EVERYONE:
            self.people.say(user, "/start")
        await self.tick()
        app = self.world.running
        for role, group in ((Role.MANAGER, MANAGERS), (Role.STOREKEEPER, KEEPERS)):
            for user in group:
                await app.users.grant(user.id, role)
        rows = [
            ImportRow(i, sku, name, "pcs", stock) for i, (sku, name, stock) in enumerate(ITEMS)
        ]
        await app.inventory.import_rows(rows)
        await self.tick()

    # -- the day --------------------------------------------------------------------------

    async def day(self) -> None:
        day = self.hours * 3600
        planned = plan(self.rng_faults, self.hours, self.db.engine_name)
        arrivals = sorted(self.rng_people.uniform(0.02, 0.8) * day for _ in range(self.requests))
        who = [self.rng_people.choice(REQUESTERS) for _ in arrivals]
        self.open: list[Incident] = []
        next_look = 3600.0
        while self.sim.seconds < day + min(DRAIN_SECONDS, day / 2):
            now = self.sim.seconds
            while planned and planned[0].at <= now:
                p = planned.pop(0)
                incident = Incident(len(self.report.incidents) + 1, p.kind, now, p.duration)
                incident.needs_person = p.kind in NEEDS_PERSON
                try:
                    started = await inject(self.world, self.people, incident, self.rng_faults)
                except (DBAPIError, OSError):
                    started = False  # the database is away (another incident): later
                if started:
                    self.report.incidents.append(incident)
                    self.open.append(incident)
                elif now < day:
                    p.at = now + 60  # its moment has not come: try again in a minute
                    planned.append(p)
                    planned.sort(key=lambda x: (x.at, x.kind))
                else:
                    self.report.left_out[p.kind] = "its moment never came in this day"
            for incident in self.open:
                if incident.cleared_at is None and now >= incident.injected_at + incident.duration:
                    await end_fault(self.world, incident)
                    incident.cleared_at = now
            while arrivals and arrivals[0] <= now and now < day:
                arrivals.pop(0)
                user = who.pop(0)
                if user.id not in self.people.gone:
                    self.people.new_request(user)
            self.people.step_conversations()
            self.people.decide(MANAGERS + KEEPERS)
            if now >= next_look and now < day:
                next_look += 3600.0
                self.people.say(ADMIN, "/workflow_recovery")  # the admin's hourly look
            self.probe()
            # 1 s resolution while Telegram, the database or a restart is being recovered from.
            busy = any(
                i.recovered_at is None
                and i.kind.startswith((*STARTED_HERE, "kill"))
                and not (i.kind == "db_lock_conflict" and i.cleared_at is None)  # waits a write
                for i in self.open
            )
            await self.tick(1.0 if busy else 5.0)
            await self.check()

    def probe(self) -> None:
        """While the database recovers, someone keeps asking for their requests."""
        waiting = [i for i in self.open if i.kind.startswith(("db_", "kill_"))]
        if not any(i.cleared_at is not None and i.recovered_at is None for i in waiting):
            return
        if self.probe_mark is None or self.probe_answered() is False:
            self.probe_mark = self.api.mark()
            self.people.say(PROBE, "/my_requests")

    def probe_answered(self) -> bool | None:
        """True: the bot served the probe from the database; False: it answered otherwise."""
        if self.probe_mark is None:
            return None
        for call in self.api.calls[self.probe_mark :]:
            if call.ok and call.method == "sendMessage" and call.chat_id == PROBE.id:
                return "requests" in call.text and "Reference" not in call.text
        return None

    async def check(self) -> None:
        for incident in self.open:
            if incident.needs_person or incident.recovered_at is not None:
                continue
            if incident.cleared_at is None:
                continue
            try:
                whole = await self.whole(incident)
            except (DBAPIError, OSError) as exc:  # the database may be away: ask again
                logger.debug("check of incident %s failed: %s", incident.id, exc)
                continue
            if whole:
                incident.recovered_at = self.sim.seconds

    async def whole(self, incident: Incident) -> bool:  # noqa: PLR0911
        db, kind = self.db, incident.kind
        cleared = incident.cleared_at or incident.injected_at
        before = self.sim.start + timedelta(seconds=cleared)
        touched = [s for s in self.people.sent if incident.injected_at - WINDOW <= s.at < cleared]
        all_answered = all(answered(self.api, s) is not None for s in touched)
        if kind == "tg_blocked":
            rows = await audit.notifications_to(db, incident.affected[0])
            if not rows or any(s in audit.OPEN for s, _ in rows):
                return False
            # Measured from the first notification the bot tried to give them.
            first = min(created for _, created in rows)
            incident.cleared_at = max(
                incident.injected_at, (first - self.sim.start).total_seconds()
            )
            return True
        if kind.startswith("inv_"):
            return await audit.item_whole(db, CORRUPTED_SKU[kind], self.initial)
        if not all_answered or await audit.open_notifications(db, before):
            return False
        if kind == "db_lock_conflict":
            since = self.sim.start + timedelta(seconds=incident.injected_at)
            if await audit.database_errors(db, since):
                return False  # retried conflicts must not reach anyone as an error
        if kind.startswith("db_"):
            return audit.spool_empty(self.world.settings.error.spool_path) and bool(
                self.probe_answered()
            )
        if kind.startswith("kill_"):
            # Items another incident has corrupted are that incident's to measure.
            corrupted = {
                CORRUPTED_SKU[i.kind]
                for i in self.report.incidents
                if i.kind.startswith("inv_") and (i.needs_person or i.recovered_at is None)
            }
            for sku in set(self.initial) - corrupted:
                if not await audit.item_whole(db, sku, self.initial):
                    return False
        return True

    # -- after the day ----------------------------------------------------------------------

    async def audit(self) -> None:
        await finish(DayEnd(self.world, self.people, self.report, self.stuck_seconds))
