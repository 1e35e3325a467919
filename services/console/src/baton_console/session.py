"""Who is signed in: a session sealed into a cookie.

The cookie holds the person's API token, name, role and a CSRF token, encrypted and
signed with Fernet under the console's secret, so any replica with the same secret can
read it and no server-side store is needed. It is HttpOnly, SameSite=Strict, Secure when
the console is reached over TLS, and expires with the session.

Signing out removes the cookie, remembers the session as ended in this process, and
counts one more sign-out of the person in intake (``POST /v1/me/sign-outs``). A session
holds the count it began with; every replica asks intake for the current count at most
every ``sign_out_check_seconds`` per person (``SignOutWatch``), so a copied cookie stops
working on every replica within that time, with no store of the console's own. Signing
out ends every console session of that person, on every device.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass

from cryptography.fernet import Fernet, InvalidToken
from fastapi import Request, Response

from baton_console.gateway import ApiError

COOKIE = "baton_session"
SIGNIN_COOKIE = "baton_signin"  # the sign-in form's own CSRF value, before there is a session


@dataclass(frozen=True)
class Session:
    sid: str
    token: str
    name: str
    role: str
    department: str | None
    csrf: str
    sign_outs: int  # the person's sign-outs counted by intake when this session began

    @property
    def person_key(self) -> str:
        return hashlib.sha256(self.token.encode()).hexdigest()

    @property
    def title(self) -> str:
        if self.role == "department":
            return f"{self.name}, {self.department}"
        return f"{self.name}, {self.role.replace('_', ' ')}"


class Sessions:
    def __init__(self, key: bytes, hours: float) -> None:
        self.fernet = Fernet(key)
        self.ttl = int(hours * 3600)
        self.ended: dict[str, float] = {}  # sid -> when it would have expired anyway

    def start(
        self,
        response: Response,
        request: Request,
        *,
        token: str,
        name: str,
        role: str,
        department: str | None,
        sign_outs: int,
    ) -> Session:
        session = Session(
            secrets.token_urlsafe(16), token, name, role, department, secrets.token_urlsafe(24), sign_outs
        )
        sealed = self.fernet.encrypt(json.dumps(asdict(session)).encode()).decode()
        set_cookie(response, request, COOKIE, sealed, self.ttl)
        return session

    def read(self, request: Request) -> Session | None:
        sealed = request.cookies.get(COOKIE)
        if not sealed:
            return None
        try:
            data = json.loads(self.fernet.decrypt(sealed.encode(), ttl=self.ttl))
            session = Session(**data)
        except (InvalidToken, ValueError, TypeError):
            return None
        return None if session.sid in self.ended else session

    def forget(self, session: Session) -> None:
        """This session has ended: its cookie opens nothing here any more."""
        now = time.time()
        self.ended = {sid: until for sid, until in self.ended.items() if until > now}
        self.ended[session.sid] = now + self.ttl

    def end(self, response: Response, session: Session | None) -> None:
        if session is not None:
            self.forget(session)
        response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")


class SignOutWatch:
    """Whether the person signed out (on any replica) since a session began. Intake's count is
    asked again at most every ``seconds`` per person; while intake cannot answer, the last
    count seen stands (the pages then say intake is away)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.seen: dict[str, tuple[float, int]] = {}  # person key -> (when asked, sign-outs)

    def saw(self, session_or_key: Session | str, sign_outs: int) -> None:
        key = session_or_key if isinstance(session_or_key, str) else session_or_key.person_key
        if len(self.seen) >= 100_000:
            self.seen.clear()
        self.seen[key] = (time.monotonic(), sign_outs)

    async def ended(self, session: Session, ask: Callable[[], Awaitable[dict]]) -> bool:
        known = self.seen.get(session.person_key)
        if known is None or time.monotonic() - known[0] >= self.seconds:
            try:
                count = int((await ask())["sign_outs"])
            except ApiError as exc:
                if exc.status == 401:
                    return True  # the token itself is gone
                if known is None:
                    return False
                count = known[1]
            self.saw(session, count)
            known = self.seen[session.person_key]
        return known[1] > session.sign_outs


def set_cookie(response: Response, request: Request, name: str, value: str, max_age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


def same(a: str | None, b: str | None) -> bool:
    """Two CSRF values match (constant time); a missing one never does."""
    return bool(a) and bool(b) and hmac.compare_digest(a.encode(), b.encode())
