"""Run intake: ``baton-intake`` or ``python -m baton_intake``."""

from __future__ import annotations

from baton_shared.service.serve import serve

from baton_intake.composition import SERVICE, create_app


def main() -> None:
    serve(SERVICE, create_app)


if __name__ == "__main__":
    main()
