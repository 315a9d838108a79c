"""Shared base for every contract model: strict about unknown fields, JSON friendly."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator

# A lone UTF-16 surrogate (from a character reference like &#xD800; in a feed) is
# a valid Python character but no valid UTF-8: JSON could not carry the model.
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


class ContractModel(BaseModel):
    """Base of all models that cross a process or team boundary.

    Unknown fields are refused so that a typo in a producer fails loudly
    instead of silently dropping data a consumer relies on. Text that JSON
    cannot encode is refused too, when the model is made rather than when it
    is sent.
    """

    model_config = ConfigDict(extra="forbid", frozen=False, populate_by_name=True)

    @field_validator("*", mode="after")
    @classmethod
    def _encodable_text(cls, value: Any) -> Any:
        texts = [value] if isinstance(value, str) else value if isinstance(value, list) else []
        for text in texts:
            if isinstance(text, str) and _LONE_SURROGATE.search(text):
                raise ValueError("text with a lone surrogate cannot be encoded as UTF-8")
        return value
