"""Who is signed in: a session sealed into a cookie.

The cookie holds the person's API token, name, role and a CSRF token, encrypted and
signed with Fernet under the console's secret, so any replica with the same secret can
read it and no server-side store is needed. It is HttpOnly, SameSite=Strict, Secure when
the console is reached over TLS, and expires with the session. Signing out removes the
cookie and remembers the session's id as ended in this process (a copy of the cookie
replayed elsewhere stays valid on other replicas until it expires: documented limit).
"""

from __future__ import annotations

import hmac
import json
import secrets
import time
from dataclasses import asdict, dataclass

from cryptography.fernet import Fernet, InvalidToken
from fastapi import Request, Response

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
        self, response: Response, request: Request, *, token: str, name: str, role: str, department: str | None
    ) -> Session:
        session = Session(secrets.token_urlsafe(16), token, name, role, department, secrets.token_urlsafe(24))
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

    def end(self, response: Response, session: Session | None) -> None:
        now = time.time()
        self.ended = {sid: until for sid, until in self.ended.items() if until > now}
        if session is not None:
            self.ended[session.sid] = now + self.ttl
        response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")


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
