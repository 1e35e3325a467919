"""Sealed personal data, as it travels inside event payloads (``baton_shared.privacy`` seals and opens it)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict


class SealedData(BaseModel):
    """Ciphertext inside an event payload: only the client's data key opens it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    alg: Literal["A256GCM"] = "A256GCM"
    key_id: str  # the client whose data key sealed it
    nonce: str  # base64
    ciphertext: str  # base64, tag included
