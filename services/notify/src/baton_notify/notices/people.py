"""Who can be told: the people in the token directory (``BATON_TOKENS_FILE`` / ``BATON_TOKENS``),
their role, department and e-mail address. Addresses never enter the log."""

from __future__ import annotations

from baton_shared.service.access import DEPARTMENT, Identity, TokenBook


class Directory:
    def __init__(self, people: list[Identity]) -> None:
        self.people = {p.name: p for p in people}

    @classmethod
    def from_settings(cls, settings) -> Directory:  # noqa: ANN001 - the service's settings
        return cls(TokenBook.from_settings(settings).people())

    def address_of(self, name: str) -> str | None:
        person = self.people.get(name)
        return None if person is None else person.email

    def members_of(self, department: str) -> list[str]:
        return sorted(p.name for p in self.people.values() if p.role == DEPARTMENT and p.department == department)

    def with_role(self, role: str) -> list[str]:
        return sorted(p.name for p in self.people.values() if p.role == role)

    def person(self, name: str) -> Identity | None:
        return self.people.get(name)
