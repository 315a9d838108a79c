"""The dead-letter record: a unit of work that failed for good, with enough to replay it."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import AwareDatetime, Field

from schemas._base import ContractModel

DEADLETTER_SCHEMA_VERSION: Literal["1.0.0"] = "1.0.0"

Stage = Literal["dispatch", "poll", "fetch", "process", "publish"]


class DeadLetter(ContractModel):
    """Why a piece of work was given up, and the input needed to run it again."""

    schema_version: Literal["1.0.0"] = DEADLETTER_SCHEMA_VERSION
    kind: Literal["deadletter"] = "deadletter"
    stage: Stage
    error_class: str = Field(description="Class of the error in Newswire's error tree.")
    reason: str = Field(description="Short machine-readable reason, e.g. http_404.")
    message: str
    permanent: bool = Field(description="False when retries ran out on a transient error.")
    attempts: int = Field(ge=1)
    doc_id: str | None = None
    feed_id: str | None = None
    url: str | None = None
    task_name: str
    task_args: dict[str, Any] = Field(
        default_factory=dict, description="The task's JSON payload, for replay."
    )
    failed_at: AwareDatetime
