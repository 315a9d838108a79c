"""Shared base for every contract model: strict about unknown fields, JSON friendly."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class ContractModel(BaseModel):
    """Base of all models that cross a process or team boundary.

    Unknown fields are refused so that a typo in a producer fails loudly
    instead of silently dropping data a consumer relies on.
    """

    model_config = ConfigDict(extra="forbid", frozen=False, populate_by_name=True)
