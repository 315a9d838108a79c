"""Newswire's one error tree.

    NewswireError
    ├── TransientError            retried with backoff; dead-lettered when retries run out
    │   ├── FetchTimeout          connect/read timeout or total deadline exceeded
    │   ├── ConnectError          DNS failure, refused connection, TLS handshake failure
    │   ├── UpstreamUnavailable   HTTP 5xx, 429 (with its Retry-After); robots.txt unreachable
    │   ├── StoreUnavailable      Redis unreachable or out of memory
    │   └── HostBusy              the host's politeness limit has no slot now: re-queued,
    │                             spending no retry (retry_after = when a slot is expected)
    └── PermanentError            never retried: dead-lettered (or recorded on the feed) at once
        ├── ConfigurationError    bad settings or seed files; raised at start-up
        ├── HttpStatusError       HTTP 4xx other than 429 (404, 410, 403...)
        ├── RefusedURL            scheme or address that Newswire will not fetch
        ├── RobotsDisallowed      the site's robots.txt disallows the page for our user agent
        ├── ResponseTooLarge      body over the size limit (also after decompression)
        ├── FeedParseError        not a feed, or too broken to yield entries
        ├── DecodeError           bytes that cannot be turned into text
        ├── SchemaViolation       a message, entry or document that fails its schema
        ├── ExtractionError       trafilatura found no article text
        ├── RawContentMissing     the raw page expired from Redis before processing
        └── InvalidStreamEntry    consumer side: a stream entry that is not a valid Document

Every error carries a short machine-readable `reason` (for feed status, metrics
and the dead-letter stream) and a message a person can read.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pydantic import ValidationError


class NewswireError(Exception):
    """Root of every error Newswire raises on purpose."""

    reason: str = "error"
    retryable: bool = False

    def __init__(self, message: str, *, reason: str | None = None) -> None:
        # Messages quote hostile input: keep them encodable (feed status, JSON records).
        message = message.encode("utf-8", "replace").decode("utf-8")
        super().__init__(message)
        self.message = message
        if reason is not None:
            self.reason = reason

    def __str__(self) -> str:
        return self.message


class TransientError(NewswireError):
    """Worth trying again later: the cause is outside the input."""

    reason = "transient"
    retryable = True

    def __init__(
        self, message: str, *, reason: str | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message, reason=reason)
        self.retry_after = retry_after


class FetchTimeout(TransientError):
    reason = "timeout"


class ConnectError(TransientError):
    reason = "connect"


class UpstreamUnavailable(TransientError):
    reason = "http_5xx"


class StoreUnavailable(TransientError):
    reason = "redis_unavailable"


class HostBusy(TransientError):
    """Not a failure: the host already has its share of our requests; come back later."""

    reason = "host_busy"


class PermanentError(NewswireError):
    """Trying again will not help: the input itself is at fault."""

    reason = "permanent"


# Exit status of a process that refuses its configuration (sysexits.h EX_CONFIG):
# a supervisor should report it, not restart the process in a loop.
EXIT_CONFIG = 78


class ConfigurationError(PermanentError):
    reason = "configuration"


class HttpStatusError(PermanentError):
    reason = "http_4xx"

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message, reason=f"http_{status}")
        self.status = status


class RefusedURL(PermanentError):
    reason = "refused_url"


class RobotsDisallowed(PermanentError):
    reason = "robots"


class ResponseTooLarge(PermanentError):
    reason = "too_large"


class FeedParseError(PermanentError):
    reason = "feed_parse"


class DecodeError(PermanentError):
    reason = "decode"


class SchemaViolation(PermanentError):
    """Data that does not fit its contract model: never sent on, dead-lettered with why."""

    reason = "schema"

    @classmethod
    def of(cls, what: str, exc: ValidationError) -> SchemaViolation:
        """The violation a pydantic ValidationError describes, in one readable line."""
        details = "; ".join(
            f"{'.'.join(str(part) for part in error['loc']) or '(whole)'}: {error['msg']}"
            for error in exc.errors()[:5]
        )
        return cls(f"{what} fails its schema ({exc.error_count()} error(s)): {details}")


class ExtractionError(PermanentError):
    reason = "no_text"


class RawContentMissing(PermanentError):
    reason = "raw_missing"


class InvalidStreamEntry(PermanentError):
    """A stream entry the consumer library cannot read as a Document; it is parked."""

    reason = "invalid_entry"
