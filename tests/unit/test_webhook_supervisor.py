"""The webhook supervisor: a task slow to stop (a swallowed cancellation) holds up no other
webhook, and its successor starts only once it has ended (never two senders for one webhook)."""

from __future__ import annotations

import asyncio

from baton_notify.deliveries.deliverer import WebhookDeliverer, stop_if_told


async def test_a_task_slow_to_stop_holds_up_no_other_webhook():
    deliverer = WebhookDeliverer.__new__(WebhookDeliverer)
    deliverer.tasks = {}
    rows = [{"webhook_id": "a", "version": 1}, {"webhook_id": "b", "version": 1}]

    class Views:
        async def active_versions(self):
            return {row["webhook_id"]: row["version"] for row in rows}

        async def active_webhooks(self, webhook_ids):
            return [row for row in rows if row["webhook_id"] in webhook_ids]

    deliverer.views = Views()
    started: list[tuple[str, int]] = []
    let_go = asyncio.Event()

    async def deliver(row):
        started.append((row["webhook_id"], row["version"]))
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            if row["webhook_id"] != "a":
                raise
            await let_go.wait()  # a's stop takes its time

    deliverer.deliver = deliver
    await deliverer.supervise()
    await asyncio.sleep(0)
    rows = [{"webhook_id": "a", "version": 2}, {"webhook_id": "b", "version": 1}, {"webhook_id": "c", "version": 1}]
    await asyncio.wait_for(deliverer.supervise(), 1)  # not held up by a's stop
    await asyncio.sleep(0)
    assert ("c", 1) in started and ("a", 2) not in started  # a's old sender still lives
    await asyncio.wait_for(deliverer.supervise(), 1)
    assert ("a", 2) not in started
    let_go.set()
    await asyncio.sleep(0.01)
    await deliverer.supervise()
    await asyncio.sleep(0)
    assert started.count(("a", 2)) == 1 and started.count(("b", 1)) == 1
    for _, task in deliverer.tasks.values():
        task.cancel()


async def test_a_swallowed_cancellation_still_ends_the_loop():
    async def loop():
        while True:
            stop_if_told()
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                pass  # swallowed, as asyncio.wait_for can in Python 3.11

    task = asyncio.create_task(loop())
    await asyncio.sleep(0)
    task.cancel()
    await asyncio.wait_for(asyncio.wait({task}), 1)
    assert task.cancelled()
