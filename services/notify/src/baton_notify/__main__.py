"""Run notify: ``baton-notify`` or ``python -m baton_notify``."""

from __future__ import annotations

from baton_shared.service.serve import serve

from baton_notify.composition import SERVICE, create_app


def main() -> None:
    serve(SERVICE, create_app)


if __name__ == "__main__":
    main()
