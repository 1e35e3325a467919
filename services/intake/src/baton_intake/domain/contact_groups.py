"""One person behind several accounts: the contact group an account's contacts put it in.

The group id is a keyed HMAC (intake's key, derived from the master key) of the first
contact's normalised e-mail, else phone, shaped as a UUID. Accounts with the same contact
person get the same group id; without the key the id says nothing about who the person is,
and no address is kept anywhere in clear outside the sealed contacts.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import uuid
from collections.abc import Iterable

from baton_shared.contracts.intake import Contact

GROUPING_PURPOSE = "contact-group"


def normalised(contact: Contact) -> str | None:
    """``email:<lower-case address>`` or ``phone:<digits, with a leading +>``; None without either."""
    if contact.email and contact.email.strip():
        return "email:" + contact.email.strip().lower()
    if contact.phone:
        digits = re.sub(r"\D", "", contact.phone)
        if digits:
            return "phone:" + ("+" if contact.phone.strip().startswith("+") else "") + digits
    return None


def organisation_group(key: bytes, parent_organisation: str) -> str:
    """The group of a parent organisation's accounts: its name, case and spacing aside."""
    return _group_id(key, "organisation:" + " ".join(parent_organisation.lower().split()))


def _group_id(key: bytes, what: str) -> str:
    digest = hmac.new(key, what.encode(), hashlib.sha256).digest()
    return str(uuid.UUID(bytes=digest[:16], version=4))


def contact_group(key: bytes, contacts: Iterable[Contact]) -> str | None:
    """The group of the account's contact person (its first contact with an address), or None."""
    for contact in contacts:
        address = normalised(contact)
        if address is not None:
            return _group_id(key, address)
    return None
