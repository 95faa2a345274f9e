"""Single-use signatures stay spent when Redis forgets them (issue 12, item 3): a one-time
FaceID sign and an x-ca signature, replayed after their Redis keys are gone (what a restart of a
Redis without persistence does: the embedded default), are still refused, from the database."""

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from apps.core.redis import redis_client, redis_key
from apps.tenants.error_codes import AccessDenied, AccessDeniedReason
from apps.tenants.models import SpentSignature
from apps.tenants.services import (
    api_app_authenticate,
    api_app_authenticate_xca,
    spent_signatures_purge,
    xca_signature,
)

from .vendor_client import one_time_sign


def forget_spent_keys() -> int:
    """What a restart of a Redis without persistence does to the spent-signature keys."""
    client = redis_client()
    keys = [*client.scan_iter(match=redis_key("sign-used", "*")),
            *client.scan_iter(match=redis_key("xca-used", "*"))]
    return client.delete(*keys) if keys else 0


def test_a_one_time_sign_replayed_after_redis_forgot_it_is_refused(acme):
    sign = one_time_sign(acme.api_key, acme.api_secret)
    assert api_app_authenticate(sign=sign) == acme.app
    assert forget_spent_keys() >= 1
    with pytest.raises(AccessDenied) as refusal:
        api_app_authenticate(sign=sign)
    assert refusal.value.reason == AccessDeniedReason.EXPIRED_SIGN


def test_an_xca_signature_replayed_after_redis_forgot_it_is_refused(acme):
    now_ms = str(int(time.time() * 1000))
    signature = xca_signature(acme.api_key, now_ms, acme.api_secret)
    assert api_app_authenticate_xca(api_key=acme.api_key, timestamp_ms=now_ms,
                                    signature=signature) == acme.app
    assert forget_spent_keys() >= 1
    with pytest.raises(AccessDenied) as refusal:
        api_app_authenticate_xca(api_key=acme.api_key, timestamp_ms=now_ms, signature=signature)
    assert refusal.value.reason == AccessDeniedReason.EXPIRED_SIGN


def test_spent_signatures_are_purged_once_no_replay_could_pass(acme):
    api_app_authenticate(sign=one_time_sign(acme.api_key, acme.api_secret))
    assert SpentSignature.objects.count() == 1
    row = SpentSignature.objects.get()
    assert row.expires_at > timezone.now() + timedelta(seconds=300)   # outlives the sign's age
    assert spent_signatures_purge() == 0
    assert spent_signatures_purge(now=row.expires_at + timedelta(seconds=1)) == 1
    assert not SpentSignature.objects.exists()
