"""delivery.links: signed tracking links round-trip, refuse every alteration and expire; user keys are pseudonymous."""

import base64
import hashlib
import hmac
import json
from dataclasses import asdict, replace
from urllib.parse import parse_qs

import pytest

from delivery import links
from delivery.links import BadLink, Served

SERVED_AT = 1_773_144_000  # Tuesday 10 March 2026, 12:00 UTC
SERVED = Served(
    request_id="0b6f3c1e-4d1a-4a59-9a3e-1c2b3d4e5f60",
    ad_id=41,
    ad_group_id=42,
    campaign_id=43,
    advertiser_id=44,
    placement="feed",
    billed_on="impression",
    price_micros=2_000,
    user_key="5f0c4d1b2a39e8f7c6b5a4d3e2f1a0b9",
    country="DE",
    device="mobile",
    served_at=SERVED_AT,
    expires_at=SERVED_AT + links.LINK_LIFETIME_SECONDS,
    landing_url="https://bakery.example.com/?utm=feed",
)


def split(query: str) -> tuple[str, str]:
    """The payload and signature of a link's query string."""
    parts = parse_qs(query, strict_parsing=True)
    assert set(parts) == {"d", "s"}
    return parts["d"][0], parts["s"][0]


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def signed_with_test_key(payload: str, kind: str, settings) -> str:
    """A genuine signature over any payload, made the way the platform signs (to reach checks past the signature)."""
    digest = hmac.new(settings.TRACKING_SIGNING_KEY.encode(), f"{kind}.{payload}".encode(), hashlib.sha256).digest()
    return b64(digest[: links.SIGNATURE_BYTES])


def reason_of(payload: str, signature: str, kind: str, now: float = SERVED_AT) -> str:
    with pytest.raises(BadLink) as refused:
        links.verify(payload, signature, kind, now=now)
    return refused.value.reason


@pytest.mark.parametrize("kind", ["i", "c"])
def test_a_signed_link_round_trips(kind):
    # given a served ad
    # when its impression or click link is signed and verified
    payload, signature = split(links.sign(SERVED, kind))
    # then the verified facts are exactly what was served, and the signature is 16 bytes
    assert links.verify(payload, signature, kind, now=SERVED_AT) == SERVED
    assert links.verify(payload, signature, kind, now=SERVED.expires_at - 1) == SERVED
    assert len(unb64(signature)) == 16
    assert json.loads(unb64(payload)) == asdict(SERVED)


def test_impression_and_click_links_of_the_same_ad_differ():
    # given one served ad
    # when both its links are signed
    impression, click = split(links.sign(SERVED, "i")), split(links.sign(SERVED, "c"))
    # then they carry the same facts under different signatures
    assert impression[0] == click[0]
    assert impression[1] != click[1]


@pytest.mark.parametrize(("signed_as", "presented_as"), [("i", "c"), ("c", "i")])
def test_a_link_presented_as_the_other_kind_is_refused(signed_as, presented_as):
    # given an impression link used as a click link, or the other way round
    payload, signature = split(links.sign(SERVED, signed_as))
    # when verified as the other kind
    # then its signature does not hold
    assert reason_of(payload, signature, presented_as) == "bad_signature"


@pytest.mark.parametrize("position", [0, 10, 57, -1])
def test_a_payload_with_one_character_changed_is_refused(position):
    # given a link whose payload has one character replaced
    payload, signature = split(links.sign(SERVED, "i"))
    index = position % len(payload)
    changed = payload[:index] + ("A" if payload[index] != "A" else "B") + payload[index + 1 :]
    # when verified
    # then the signature does not hold
    assert reason_of(changed, signature, "i") == "bad_signature"


@pytest.mark.parametrize(
    "change",
    [
        {"price_micros": 1},
        {"price_micros": 0},
        {"price_micros": 2_001},
        {"billed_on": "click"},
        {"advertiser_id": 45},
        {"ad_id": 40},
        {"request_id": "0b6f3c1e-4d1a-4a59-9a3e-1c2b3d4e5f61"},
        {"expires_at": SERVED_AT + 10 * links.LINK_LIFETIME_SECONDS},
        {"landing_url": "https://evil.example.com/"},
    ],
    ids=lambda change: next(iter(change)),
)
def test_a_payload_with_any_fact_rewritten_is_refused(change):
    # given a link whose facts were re-encoded with one of them rewritten, under the original signature
    _, signature = split(links.sign(SERVED, "i"))
    forged = b64(json.dumps(asdict(replace(SERVED, **change)), separators=(",", ":")).encode())
    # when verified
    # then the signature does not hold
    assert reason_of(forged, signature, "i") == "bad_signature"


def test_a_flipped_payload_byte_is_refused():
    # given a link whose decoded payload has one byte's lowest bit flipped
    payload, signature = split(links.sign(SERVED, "i"))
    raw = bytearray(unb64(payload))
    raw[len(raw) // 2] ^= 0x01
    # when verified
    # then the signature does not hold
    assert reason_of(b64(bytes(raw)), signature, "i") == "bad_signature"


@pytest.mark.parametrize("byte", [0, 7, 15])
def test_a_changed_signature_is_refused(byte):
    # given a link whose signature has one byte flipped
    payload, signature = split(links.sign(SERVED, "c"))
    raw = bytearray(unb64(signature))
    raw[byte] ^= 0x80
    # when verified
    # then it is refused
    assert reason_of(payload, b64(bytes(raw)), "c") == "bad_signature"


def test_missing_truncated_or_foreign_signatures_are_refused(settings):
    # given the signature left out, cut short, and made with another platform's key
    payload, signature = split(links.sign(SERVED, "i"))
    ours = settings.TRACKING_SIGNING_KEY
    settings.TRACKING_SIGNING_KEY = "someone-elses-key"
    _, foreign = split(links.sign(SERVED, "i"))
    settings.TRACKING_SIGNING_KEY = ours
    # when verified with this platform's key
    # then none of them holds
    assert reason_of(payload, "", "i") == "bad_signature"
    assert reason_of(payload, signature[:-4], "i") == "bad_signature"
    assert reason_of(payload, foreign, "i") == "bad_signature"


def test_a_link_expires_exactly_at_its_expiry_and_says_what_it_carried():
    # given a genuine link, 24 hours after it was served
    payload, signature = split(links.sign(SERVED, "i"))
    # when verified one second before, exactly at and after its expiry
    # then it holds until the last second and is refused as expired from expires_at on, with its facts attached
    assert SERVED.expires_at == SERVED_AT + 86_400
    assert links.verify(payload, signature, "i", now=SERVED.expires_at - 0.001) == SERVED
    for now in (SERVED.expires_at, SERVED.expires_at + 3600):
        with pytest.raises(BadLink) as refused:
            links.verify(payload, signature, "i", now=now)
        assert refused.value.reason == "expired"
        assert refused.value.served == SERVED


def test_an_altered_expired_link_is_a_bad_signature_not_expired():
    # given an expired link whose price was rewritten
    _, signature = split(links.sign(SERVED, "i"))
    forged = b64(json.dumps(asdict(replace(SERVED, price_micros=1)), separators=(",", ":")).encode())
    # when verified after expiry
    # then the forgery is what is reported
    assert reason_of(forged, signature, "i", now=SERVED.expires_at + 1) == "bad_signature"


@pytest.mark.parametrize("signature", ["abcde", "é", "A"])
def test_a_signature_that_is_not_base64_is_malformed(signature):
    # given a signature that cannot be decoded (impossible length, not ASCII)
    payload, _ = split(links.sign(SERVED, "i"))
    # when verified
    # then the link is malformed
    assert reason_of(payload, signature, "i") == "malformed"


@pytest.mark.parametrize(
    "content",
    [
        b"not json",
        b"[]",
        b'{"ad_id": 41}',  # facts missing
        json.dumps({**asdict(SERVED), "extra": 1}).encode(),  # a fact that does not exist
        b"\xff\xfe",
    ],
    ids=["not-json", "json-list", "missing-facts", "unknown-fact", "not-utf8"],
)
def test_a_genuinely_signed_payload_that_is_not_a_served_ad_is_malformed(content, settings):
    # given a payload the platform could have signed but that does not describe a served ad
    payload = b64(content)
    signature = signed_with_test_key(payload, "i", settings)
    # when verified
    # then it is malformed
    assert reason_of(payload, signature, "i") == "malformed"


def test_a_signed_payload_with_impossible_base64_is_malformed(settings):
    # given a payload of impossible base64 length under its own valid signature
    payload = "abcde"
    signature = signed_with_test_key(payload, "c", settings)
    # when verified
    # then it is malformed
    assert reason_of(payload, signature, "c") == "malformed"


def test_unverified_facts_read_a_refused_link_but_not_garbage():
    # given a forged link and a garbage payload
    forged = b64(json.dumps(asdict(replace(SERVED, price_micros=1)), separators=(",", ":")).encode())
    # when their facts are read without verification (only to record the refusal)
    # then the forged facts are read as written and garbage gives nothing
    assert links.unverified_facts(forged) == replace(SERVED, price_micros=1)
    assert links.unverified_facts("abcde") is None
    assert links.unverified_facts(b64(b"[]")) is None


def test_user_key_is_stable_pseudonymous_and_never_the_raw_id(settings):
    # given app user ids
    # when their keys are taken
    first, again, other = links.user_key("alice@example.com"), links.user_key("alice@example.com"), links.user_key("bob")
    # then the same id always gives the same 32-hex-character key, another id another key, and the id is not in it
    assert first == again
    assert first != other
    assert len(first) == 32
    assert set(first) <= set("0123456789abcdef")
    assert "alice" not in first
    assert links.user_key("12345") != "12345"
    # and a key made with another signing key differs: it is an HMAC, not a plain hash of the id
    assert first != hashlib.sha256(b"alice@example.com").hexdigest()[:32]
    settings.TRACKING_SIGNING_KEY = "another-platform"
    assert links.user_key("alice@example.com") != first


def test_the_link_carries_the_user_key_not_the_user_id():
    # given an ad served to the user "alice@example.com"
    served = replace(SERVED, user_key=links.user_key("alice@example.com"))
    # when its link is signed
    query = links.sign(served, "i")
    # then the raw id appears nowhere in the link
    payload, _ = split(query)
    assert b"alice" not in unb64(payload)
    assert "alice" not in query
