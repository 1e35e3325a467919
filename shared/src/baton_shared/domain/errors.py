class DomainRuleViolation(Exception):
    """A command breaks a business rule (answered 409, nothing appended).

    ``details`` go into the 409's body beside the message (machine-readable codes)."""

    details: dict = {}


class NotFound(Exception):
    """The command or query names something that does not exist (answered 404)."""
