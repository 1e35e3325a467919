"""Read-your-writes: a read can ask to see at least a given stream position.

Every write answers with the position it appended (``position.seq``). A GET
served from a projection accepts that number as the ``min_position`` query
parameter or the ``Baton-Min-Position`` header and waits, up to
``BATON_READ_WAIT_TIMEOUT_SECONDS``, until its projection has applied it. If the
projection does not get there in time the answer is 503 with ``Retry-After``,
never a stale read presented as fresh. A position beyond the stream's last
sequence names no write: waiting could not reach it, so it is answered at once
with 409 (``position-beyond-log``: the log's state, not the input's form, refuses it;
the same read succeeds once the log holds that position).
"""

from __future__ import annotations

from fastapi import Depends, Header, Query, Request

from baton_shared.eventstore.provisioning import JetStreamApiError, js_api
from baton_shared.service.problems import ProblemException

MIN_POSITION_DOC = (
    "Wait until the projection behind this read has applied this stream position "
    "(the `position.seq` a write answered with). Same as the `Baton-Min-Position` header. "
    "A position beyond the stream's last sequence is refused at once (409)."
)
HEADER = "Baton-Min-Position"


async def last_sequence(request: Request, stream: str) -> int | None:
    """The stream's last sequence now, or None when the broker cannot say (then the read waits as usual)."""
    runtime = request.app.state.runtime
    try:
        return int((await js_api(runtime.nc, f"STREAM.INFO.{stream}", timeout=2.0))["state"]["last_seq"])
    except JetStreamApiError:
        return 0  # no such stream yet: nothing was written
    except Exception:  # noqa: BLE001 - disconnected, timed out: decided by the wait
        return None


def read_after_position(*projections: str):
    async def wait(
        request: Request,
        min_position: int = Query(0, ge=0, le=2**63 - 1, description=MIN_POSITION_DOC),
        baton_min_position: int = Header(0, ge=0, le=2**63 - 1, description=MIN_POSITION_DOC),
    ) -> None:
        target = max(min_position, baton_min_position)
        if target == 0:
            return
        runtime = request.app.state.runtime
        timeout = runtime.settings.read_wait_timeout_seconds
        runners = [runtime.projections[name] for name in projections]
        for runner in runners:
            if runner.position >= target or target <= runner.head:
                continue  # reached, or known to be in the log
            last = await last_sequence(request, runner.stream_name)
            if last is not None and target > last:
                where = ["query", "min_position"] if min_position == target else ["header", HEADER]
                raise ProblemException(
                    409,
                    "position-beyond-log",
                    f"position {target} is beyond the last sequence of stream {runner.stream_name} ({last}): "
                    "no write answered it, so there is nothing to wait for",
                    errors=[
                        {"loc": where, "msg": f"beyond the log's last sequence {last}", "type": "position_beyond_log"}
                    ],
                    last_seq=last,
                )
        for runner in runners:
            if not await runner.wait_for(target, timeout):
                raise ProblemException(
                    503,
                    "not-yet-projected",
                    f"projection {runner.key} is at position {runner.position}, not yet {target}; retry shortly",
                    headers={"Retry-After": "1"},
                )

    return Depends(wait)
