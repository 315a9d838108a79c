"""Delivery to downstream teams: idempotent publication to streams, and the dead-letter stream."""
