"""Who is calling, and what they may do: bearer tokens with roles.

Every ``/v1`` route needs ``Authorization: Bearer <token>``. Tokens come from
``BATON_TOKENS_FILE`` (a JSON file) and/or ``BATON_TOKENS`` (the same JSON inline),
each a list of entries (or ``{"tokens": [...]}``)::

    {"name": "alice", "role": "account_manager", "sha256": "<hex of the token>"}
    {"name": "dora", "role": "department", "department": "design", "token": "<the token itself>",
     "email": "dora@example.com"}

``sha256`` is what deployments should store (``python -m baton_shared.service.access
new --name alice --role account_manager`` makes a token and prints both); ``token``
(plain) is accepted for local runs. A presented token is hashed and compared with every
known hash in constant time. ``email`` (optional) is where notify sends the person's notices.

Roles: ``admin`` everything; ``ops`` every read (GET); ``head`` (of account management)
every read, and the few writes a head makes (reassigning account managers), never a
department's or an account manager's writes; ``account_manager`` their own clients and
what belongs to them (the service's read models say whose a client is); ``department``
the work orders of their department; ``integration`` (another system) its own webhook
subscriptions in notify. The rules per route live in each
service's ``api/dependencies.py``; ``create_service_app`` refuses a ``/v1`` route that
has no rule. 401 = no token or an unknown one; 403 = a known token without the right.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import secrets
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import SecretStr

from baton_shared.domain.errors import NotFound
from baton_shared.projections.runner import first_behind
from baton_shared.service.problems import ProblemException

ADMIN, OPS, HEAD, ACCOUNT_MANAGER, DEPARTMENT = "admin", "ops", "head", "account_manager", "department"
ROLES = (ADMIN, OPS, HEAD, ACCOUNT_MANAGER, DEPARTMENT)
EVERY_READ = frozenset({OPS, HEAD})  # roles that read everything

# integration: another team's system; it manages its own webhooks (notify) and nothing else.
INTEGRATION = "integration"
ROLES = (*ROLES, INTEGRATION)
READS = frozenset({"GET", "HEAD"})


class TokenConfigError(ValueError):
    """The tokens setting cannot be used; the message says which entry and why."""


@dataclass(frozen=True)
class Identity:
    name: str
    role: str
    department: str | None = None
    email: str | None = None

    def describe(self) -> str:
        if self.role == DEPARTMENT:
            return f"{self.name} (department member of {self.department})"
        return f"{self.name} ({self.role.replace('_', ' ')})"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _entries(raw: Any, where: str) -> list[dict]:
    if isinstance(raw, dict) and "tokens" in raw:
        raw = raw["tokens"]
    if not isinstance(raw, list):
        raise TokenConfigError(f'{where}: expected a list of token entries (or {{"tokens": [...]}})')
    return raw


def _identity(entry: Any, where: str) -> tuple[bytes, Identity]:
    if not isinstance(entry, dict):
        raise TokenConfigError(f"{where}: an entry must be an object, got {entry!r}")
    name, role, department = entry.get("name"), entry.get("role"), entry.get("department")
    if not isinstance(name, str) or not name.strip():
        raise TokenConfigError(f'{where}: an entry needs a non-empty "name"')
    if role not in ROLES:
        raise TokenConfigError(f'{where}: {name}: "role" must be one of {", ".join(ROLES)}, got {role!r}')
    if role == DEPARTMENT:
        if not isinstance(department, str) or not department.strip():
            raise TokenConfigError(f'{where}: {name}: a department member needs "department"')
        department = department.strip().lower()
    else:
        department = None
    if "sha256" in entry:
        digest = str(entry["sha256"]).strip().lower()
        if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            raise TokenConfigError(f'{where}: {name}: "sha256" must be 64 hex digits')
    elif isinstance(entry.get("token"), str) and len(entry["token"]) >= 16:
        digest = hash_token(entry["token"])
    else:
        raise TokenConfigError(f'{where}: {name}: needs "sha256" (hex of the token) or "token" (16 characters or more)')
    return bytes.fromhex(digest), Identity(name.strip(), role, department, _email(entry.get("email"), where, name))


def _email(value: Any, where: str, name: str) -> str | None:
    """An address fit for a mail header: one ``local@domain``, no spaces or line breaks."""
    if value is None:
        return None
    if (
        not isinstance(value, str)
        or value.count("@") != 1
        or any(c.isspace() or c in '<>,;"' for c in value)
        or not all(value.split("@"))
        or len(value) > 254
    ):
        raise TokenConfigError(f'{where}: {name}: "email" must be one address like name@example.com, got {value!r}')
    return value


class TokenBook:
    """The known tokens, by SHA-256; looked up in constant time per entry."""

    def __init__(self, entries: list[tuple[bytes, Identity]]) -> None:
        self.entries = entries

    @classmethod
    def parse(cls, text: str, where: str) -> TokenBook:
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as exc:
            raise TokenConfigError(f"{where}: not JSON: {exc}") from exc
        return cls([_identity(e, where) for e in _entries(raw, where)])

    @classmethod
    def from_settings(cls, settings: Any) -> TokenBook:
        entries: list[tuple[bytes, Identity]] = []
        path = getattr(settings, "tokens_file", None)
        if path:
            try:
                text = Path(path).read_text(encoding="utf-8")
            except OSError as exc:
                raise TokenConfigError(f"BATON_TOKENS_FILE {path}: cannot read: {exc}") from exc
            entries += cls.parse(text, f"BATON_TOKENS_FILE {path}").entries
        inline = getattr(settings, "tokens", None)
        inline = inline.get_secret_value() if isinstance(inline, SecretStr) else inline
        if inline:
            entries += cls.parse(inline, "BATON_TOKENS").entries
        return cls(entries)

    def people(self) -> list[Identity]:
        """Everyone with a token, once each (a person may hold several tokens; the first entry
        that gives an e-mail address gives theirs)."""
        found: dict[str, Identity] = {}
        for _, identity in self.entries:
            if identity.name not in found or (found[identity.name].email is None and identity.email):
                found[identity.name] = identity
        return list(found.values())

    def identify(self, token: str) -> Identity | None:
        presented = hashlib.sha256(token.encode("utf-8")).digest()
        found = None
        for digest, identity in self.entries:  # every entry compared: the time does not say which matched
            if hmac.compare_digest(presented, digest) and found is None:
                found = identity
        return found


_bearer = HTTPBearer(auto_error=False, description="A token from BATON_TOKENS_FILE / BATON_TOKENS")


def unauthorized(detail: str) -> HTTPException:
    return HTTPException(status_code=401, detail=detail, headers={"WWW-Authenticate": "Bearer"})


async def authenticated(
    request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(_bearer)
) -> Identity:
    """The caller's identity, or 401. Cached per request (FastAPI), so rules may ask again."""
    book: TokenBook = request.app.state.tokens
    if credentials is None:
        raise unauthorized("missing bearer token: send 'Authorization: Bearer <token>'")
    if not book.entries:
        raise unauthorized("this service has no API tokens configured (BATON_TOKENS_FILE or BATON_TOKENS)")
    identity = book.identify(credentials.credentials)
    if identity is None:
        raise unauthorized("unknown bearer token")
    request.state.identity = identity
    return identity


def forbidden(who: Identity, what: str) -> HTTPException:
    return HTTPException(status_code=403, detail=f"{who.describe()} may not {what}")


def access_rule(fn: Callable) -> Callable:
    """Mark a dependency as a route's access rule (``create_service_app`` insists on one)."""
    fn.__baton_access_rule__ = True
    return fn


def has_access_rule(dependant: Any) -> bool:
    return any(getattr(d.call, "__baton_access_rule__", False) or has_access_rule(d) for d in dependant.dependencies)


def admin_or_ops_read(request: Request, who: Identity) -> bool:
    """Admin; ops and head on reads."""
    return who.role == ADMIN or (who.role in EVERY_READ and request.method in READS)


def roles(*allowed: str, what: str):
    """A rule by role alone (admin is always allowed; ops and head on reads)."""

    @access_rule
    async def rule(request: Request, who: Identity = Depends(authenticated)) -> Identity:
        if admin_or_ops_read(request, who) or who.role in allowed:
            return who
        raise forbidden(who, what)

    return Depends(rule)


async def known(request: Request, lookup: Callable[[], Awaitable[Any]], projections: tuple[str, ...]) -> Any:
    """``lookup()``; when it finds nothing, once more after the projections have applied
    everything their streams held a moment ago (an id written a moment ago may not be
    projected yet; access must not be decided on a stale "unknown")."""
    return await looked_up_again(request.app.state.runtime, projections, lookup)


async def caught_up(runtime: Any, projections: tuple[str, ...]) -> None:
    """Return once ``projections`` have applied everything their streams held a moment ago;
    503 when they cannot (the broker away, or not there within the read wait)."""
    try:
        await runtime.refresh_heads()
    except Exception as exc:  # noqa: BLE001 - the broker is away: "unknown" cannot be told from "not yet"
        raise not_yet_known("the event log is unavailable") from exc
    behind = await first_behind(runtime.projections, projections, runtime.settings.read_wait_timeout_seconds)
    if behind is not None:
        raise not_yet_known(f"projection {behind.key} is at position {behind.position}, not yet {behind.head}")


async def looked_up_again(runtime: Any, projections: tuple[str, ...], lookup: Callable[[], Awaitable[Any]]) -> Any:
    """``lookup()``; a miss is asked again once ``projections`` caught up, so an id written a
    moment ago (by anyone, on any replica) is not answered 404: access rules and commands' directories."""
    found = await lookup()
    if found is None:
        await caught_up(runtime, projections)
        found = await lookup()
    return found


def not_yet_known(why: str) -> ProblemException:
    return ProblemException(
        503,
        "not-yet-projected",
        f"{why}, so an unknown id cannot be told from one not projected yet; retry shortly",
        headers={"Retry-After": "1"},
    )


async def require_manager(
    request: Request,
    who: Identity,
    manager_of: Callable[[], Awaitable[str | None]],
    projections: tuple[str, ...],
    what: str,
    missing: str,
) -> Identity:
    """Admin; ops and head on reads; the account manager ``manager_of()`` names. Unknown → 404."""
    if admin_or_ops_read(request, who):
        return who
    if who.role != ACCOUNT_MANAGER:
        raise forbidden(who, what)
    manager = await known(request, manager_of, projections)
    if manager is None:
        raise NotFound(missing)
    if manager != who.name:
        raise forbidden(who, f"{what}: it belongs to another account manager's client")
    return who


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m baton_shared.service.access", description="Make an API token")
    sub = parser.add_subparsers(dest="command", required=True)
    new = sub.add_parser("new", help="print a new token and its entry for BATON_TOKENS_FILE / BATON_TOKENS")
    new.add_argument("--name", required=True)
    new.add_argument("--role", required=True, choices=ROLES)
    new.add_argument("--department")
    new.add_argument("--email", help="where notify sends this person's notices")
    args = parser.parse_args(argv)
    token = secrets.token_urlsafe(32)
    entry = {"name": args.name, "role": args.role, "sha256": hash_token(token)}
    if args.department:
        entry["department"] = args.department
    if args.email:
        entry["email"] = args.email
    _identity(entry, "arguments")  # the same checks as at start-up
    print(f"token (give it to {args.name}; it is not stored anywhere): {token}")
    print(f"entry: {json.dumps(entry)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
