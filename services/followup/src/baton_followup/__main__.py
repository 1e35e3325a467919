"""Run follow-up: ``baton-followup`` or ``python -m baton_followup``."""

from __future__ import annotations

from baton_shared.service.serve import serve

from baton_followup.composition import SERVICE, create_app


def main() -> None:
    serve(SERVICE, create_app)


if __name__ == "__main__":
    main()
