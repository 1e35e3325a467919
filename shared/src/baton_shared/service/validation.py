"""422 answers: a problem detail naming each field at fault, that can always be written.

FastAPI's own handler echoes the offending input; an input JSON cannot carry back (a
float like ``1e400`` parsed as infinity, bytes that are not UTF-8) made the answer
itself fail and the caller got a 500 (kept by ``tests/integration/test_fuzz.py``).
Here the input is not echoed, and messages are made printable."""

from __future__ import annotations

import math
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from starlette.responses import Response

from baton_shared.service import problems
from baton_shared.service.inputs import MONEY_PATTERN, NO_NUL, NOT_BLANK

# What a pattern means, said instead of the pattern itself (the document shows the pattern).
_PATTERNS_SAY = {
    NOT_BLANK: "must not be blank, nor hold a NUL character",
    NO_NUL: "must not hold a NUL character",
    MONEY_PATTERN: 'must be an amount as a decimal string with at most two decimals, e.g. "1200000.50"',
}


def _printable(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "backslashreplace")
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode("utf-8")  # lone surrogates
    if isinstance(value, dict):
        return {_printable(k): _printable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_printable(v) for v in value]
    return value


def register(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def invalid(_request: Request, exc: RequestValidationError) -> Response:
        found = _printable(jsonable_encoder(exc.errors(), custom_encoder={bytes: _printable}))
        for error in found:
            said = _PATTERNS_SAY.get((error.get("ctx") or {}).get("pattern"))
            if error.get("type") == "string_pattern_mismatch" and said:
                error["msg"] = said
        errors = problems.field_errors(found)
        return problems.problem(422, problems.summary(errors), "invalid-input", errors=errors)
