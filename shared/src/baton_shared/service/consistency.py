"""Read-your-writes: a read can ask to see at least a given stream position.

Every write answers with the position it appended (``position.seq``). A GET
served from a projection accepts that number as the ``min_position`` query
parameter or the ``Baton-Min-Position`` header and waits, up to
``BATON_READ_WAIT_TIMEOUT_SECONDS``, until its projection has applied it. If the
projection does not get there in time the answer is 503 with ``Retry-After``,
never a stale read presented as fresh.
"""

from __future__ import annotations

from fastapi import Depends, Header, HTTPException, Query, Request

MIN_POSITION_DOC = (
    "Wait until the projection behind this read has applied this stream position "
    "(the `position.seq` a write answered with). Same as the `Baton-Min-Position` header."
)


def read_after_position(*projections: str):
    async def wait(
        request: Request,
        min_position: int | None = Query(None, ge=0, le=2**63 - 1, description=MIN_POSITION_DOC),
        baton_min_position: int | None = Header(None, ge=0, le=2**63 - 1, description=MIN_POSITION_DOC),
    ) -> None:
        target = max(v for v in (min_position, baton_min_position, 0) if v is not None)
        if target == 0:
            return
        runtime = request.app.state.runtime
        timeout = runtime.settings.read_wait_timeout_seconds
        for name in projections:
            runner = runtime.projections[name]
            if not await runner.wait_for(target, timeout):
                raise HTTPException(
                    status_code=503,
                    detail=(
                        f"projection {runner.key} is at position {runner.position}, "
                        f"not yet {target}; retry shortly"
                    ),
                    headers={"Retry-After": "1"},
                )

    return Depends(wait)
