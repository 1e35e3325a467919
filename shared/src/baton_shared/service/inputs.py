"""Input field types whose OpenAPI schema says exactly what the code accepts.

A schema-valid input must be accepted and an input the schema refuses must be refused
(schemathesis checks both ways), so every constraint is one the document can state:
length and "not blank" are checked on the text as sent (then surrounding whitespace
is trimmed), department slugs take either case, money is a decimal string. Bodies are
validated strictly (``STRICT``): no ``true`` for a number, no ``1`` or ``"yes"`` for
``true``, no number for a date.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, ConfigDict, Field, StringConstraints

STRICT = ConfigDict(extra="forbid", strict=True)  # the model_config of every request body

# Python's whitespace (``str.isspace``, what ``str.strip`` removes), spelled out: the
# regex engines reading the document (ECMA, Rust, Python) each mean something else by \s.
WHITESPACE = r"\t\n\x0b\x0c\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
# No NUL anywhere (PostgreSQL text cannot hold one; ``baton_shared.idempotency`` refuses it).
NO_NUL = r"^[^\x00]*$"
NOT_BLANK = rf"^[^\x00]*[^\x00{WHITESPACE}][^\x00]*$"  # no NUL, and something besides whitespace
DEPARTMENT_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$"
MONEY_PATTERN = r"^[0-9]{1,15}(\.[0-9]{1,2})?$"
CURRENCY_PATTERN = r"^[A-Z]{3}$"


def text(max_length: int, description: str | None = None):
    """Text that is not blank, at most ``max_length`` characters as sent; trimmed."""
    return Annotated[
        str,
        StringConstraints(max_length=max_length, pattern=NOT_BLANK),
        AfterValidator(str.strip),
        Field(description=description),
    ]


def optional_text(max_length: int, description: str | None = None):
    """Text that may be empty, at most ``max_length`` characters as sent; trimmed."""
    return Annotated[
        str,
        StringConstraints(max_length=max_length, pattern=NO_NUL),
        AfterValidator(str.strip),
        Field(description=description),
    ]


Department = Annotated[
    str,
    StringConstraints(pattern=DEPARTMENT_PATTERN),
    AfterValidator(str.lower),
    Field(description="department slug, e.g. `design`; case is ignored"),
]
Money = Annotated[
    str,
    StringConstraints(pattern=MONEY_PATTERN),
    AfterValidator(Decimal),
    Field(description='an amount as a decimal string, at most two decimals, e.g. `"1200000.50"`'),
]

Currency = Annotated[
    str,
    StringConstraints(pattern=CURRENCY_PATTERN),
    Field(description="ISO 4217 currency code in capitals, e.g. `EUR`"),
]


_ISO_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _date_as_text(value: object) -> object:
    # pydantic alone also takes 0 or "0" (seconds since 1970) for a date
    if not isinstance(value, str) or not _ISO_DAY.fullmatch(value):
        raise ValueError("a date is text, YYYY-MM-DD")
    return value


Date = Annotated[date, Field(strict=False), BeforeValidator(_date_as_text)]  # "2027-01-31", nothing else


def _number_not_flag(value: object) -> object:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError("a whole number is a JSON number, not text or true/false")  # noqa: TRY004 - pydantic reports a ValueError, not a TypeError
    return value


def whole(ge: int, le: int):
    """A whole number from ``ge`` to ``le``: 3 or 3.0 (JSON Schema's integer), not "3" or true."""
    return Annotated[int, Field(strict=False, ge=ge, le=le), BeforeValidator(_number_not_flag)]
