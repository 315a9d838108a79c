"""Beat's tick: claim the feeds that are due and send one poll task each.

Now and then (once per `stream_lag_check_seconds`, whichever dispatcher gets
there first) the tick also checks the consumer groups of the output streams and
logs those about to lose entries to trimming, or that lost some.
"""

from __future__ import annotations

import time

from workers.app import app
from workers.publishing.lag import check_lag_now_and_then
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
    settings = services.settings
    check_lag_now_and_then(
        services.redis,
        services.keys,
        services.topic_ids,
        every_seconds=settings.stream_lag_check_seconds,
        maxlen=settings.stream_maxlen,
        alert_fraction=settings.stream_lag_alert_fraction,
    )
    return len(claimed)
