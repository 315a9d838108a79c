"""Beat's tick: claim the feeds that are due and send one poll task each."""

from __future__ import annotations

import time

from workers.app import app
from workers.services import get_services
from workers.tasks import DISPATCH_DUE_FEEDS, POLL_FEED


@app.task(name=DISPATCH_DUE_FEEDS, ignore_result=True)
def dispatch_due_feeds() -> int:
    services = get_services()
    now = time.time()
    services.redis.set(services.keys.beat_heartbeat, str(now))
    claimed = services.registry.claim_due(
        now=now,
        limit=services.settings.dispatch_batch,
        lease_seconds=services.settings.poll_lease_seconds,
    )
    # One producer for the whole batch, rather than one taken from the pool per task.
    with app.producer_or_acquire() as producer:
        for feed_id in claimed:
            app.send_task(POLL_FEED, args=[feed_id], producer=producer)
    return len(claimed)
