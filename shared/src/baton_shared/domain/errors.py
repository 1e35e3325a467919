class DomainRuleViolation(Exception):
    """A command breaks a business rule (answered 409, nothing appended)."""


class NotFound(Exception):
    """The command or query names something that does not exist (answered 404)."""
