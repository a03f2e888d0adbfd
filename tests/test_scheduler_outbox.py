"""The scheduler runs the outbox every OUTBOX_JOB_SECONDS and the notification retention."""

from __future__ import annotations

from bot.scheduler import create_scheduler
from tests.conftest import World


async def test_outbox_jobs_are_scheduled_at_the_configured_interval(world: World) -> None:
    scheduler = create_scheduler(world.app)
    jobs = {job.id: job for job in scheduler.get_jobs()}
    assert {"outbox", "notification_cleanup"} <= set(jobs)
    assert jobs["outbox"].trigger.interval.total_seconds() == world.app.settings.outbox.job_seconds
