"""Notify's pure parts: webhook lifecycle, Standard Webhooks signatures, the address guard, backoff."""

import asyncio
import base64

import pytest

from baton_shared.domain import DomainRuleViolation, NotFound
from baton_notify.deliveries.deliverer import backoff
from baton_notify.domain import AddressRefused, Webhook, check_url, resolve_allowed
from baton_notify.domain.addresses import internal
from baton_notify.domain.signing import headers, new_secret, signature


def subscribed() -> Webhook:
    w = Webhook("w1")
    w.subscribe(
        url="https://example.com/h",
        event_types=["ClientRegistered"],
        client_id=None,
        department=None,
        owner="api",
        wrapped_secret="x",
        start_positions={"INTAKE": 3},
    )
    return w


def test_lifecycle_pause_resume_delete():
    w = subscribed()
    w.pause("by hand")
    w.pause("again")  # paused already: nothing more
    w.resume()
    w.delete()
    assert [e.event_type for e in w.pending] == [
        "WebhookSubscribed",
        "WebhookPaused",
        "WebhookResumed",
        "WebhookDeleted",
    ]
    with pytest.raises(DomainRuleViolation):
        w.resume()
    with pytest.raises(NotFound):
        Webhook("nope").pause("x")


def test_known_standard_webhooks_vector():
    # The example of the Standard Webhooks specification, checked by hand.
    assert (
        signature(
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            b'{"test": 2432232314}',
        )
        == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    )


def test_a_standard_verifier_accepts_the_signature():
    import time

    import standardwebhooks

    secret = new_secret()
    assert secret.startswith("whsec_") and len(base64.b64decode(secret[6:])) == 32
    body = b'{"id": "e1", "data": {"x": 1}}'
    sent = headers(secret, "e1", int(time.time()), body)
    assert standardwebhooks.Webhook(secret).verify(body, sent) == {"id": "e1", "data": {"x": 1}}
    with pytest.raises(standardwebhooks.WebhookVerificationError):
        standardwebhooks.Webhook(new_secret()).verify(body, sent)


@pytest.mark.parametrize(
    "url", ["ftp://example.com/", "http://user:pw@example.com/", "https://", "http://example.com/#x", "http://[::1"]
)
def test_bad_urls_are_refused(url):
    with pytest.raises(AddressRefused):
        check_url(url)


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "192.168.0.1",
        "172.16.0.1",
        "169.254.169.254",
        "::1",
        "fe80::1",
        "fc00::1",
        "::ffff:127.0.0.1",
        "0.0.0.0",
        "100.64.0.1",
        "224.0.0.1",
    ],
)
def test_internal_addresses(address):
    assert internal(address)


def test_public_address_is_not_internal():
    assert not internal("93.184.216.34")


def test_loopback_refused_by_default_allowed_by_setting():
    with pytest.raises(AddressRefused, match="internal"):
        asyncio.run(resolve_allowed("http://127.0.0.1:9/h", allow_private=False))
    with pytest.raises(AddressRefused, match="internal"):
        asyncio.run(resolve_allowed("http://localhost:9/h", allow_private=False))
    asyncio.run(resolve_allowed("http://127.0.0.1:9/h", allow_private=True))


def test_backoff_doubles_with_jitter_and_a_ceiling():
    assert [backoff(n, 1, 600, rng=lambda: 1.0) for n in (1, 2, 3, 4)] == [1, 2, 4, 8]
    assert [backoff(n, 1, 600, rng=lambda: 0.0) for n in (1, 2, 3)] == [0.5, 1, 2]
    assert backoff(30, 1, 600, rng=lambda: 1.0) == 600
