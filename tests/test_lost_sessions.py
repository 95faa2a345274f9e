"""A session Redis lost (issue 12, item 3): what a restart of a Redis without persistence does to
a live biz_token. Its database record must not stay open with its call counted: the first
verify closes it with one verification record and gives the call back; nothing is settled
twice."""

from apps.core.redis import redis_client, redis_key
from apps.faceid.models import BizTokenRecord, VerificationRecord

from .conftest import still_form

VERIFY = "/faceid/v3/sdk/verify"


def test_a_session_redis_lost_is_closed_and_its_call_given_back(make_tenant, post_form):
    tenant = make_tenant(name="quota-bank", call_quota=10)
    issued = post_form(still_form(tenant))
    assert issued.status_code == 200, issued.content
    biz_token = issued.json()["biz_token"]
    tenant.app.refresh_from_db()
    assert tenant.app.calls_used == 1
    assert redis_client().delete(redis_key("session", biz_token)) == 1   # Redis lost it

    answers = [post_form({"sign": tenant.sign(), "sign_version": "hmac_sha1",
                          "biz_token": biz_token}, path=VERIFY) for _ in range(2)]
    assert [a.json()["result_message"] for a in answers] == ["BIZ_TOKEN_DENIED"] * 2
    record = BizTokenRecord.objects.get(biz_token=biz_token)
    assert record.consumed_at is not None
    verification = VerificationRecord.objects.get(biz_token=biz_token)   # exactly one
    assert verification.result_message == "BIZ_TOKEN_DENIED"
    assert verification.liveness == {"session": "lost"}
    tenant.app.refresh_from_db()
    assert tenant.app.calls_used == 0                                     # given back, once


def test_an_unknown_or_foreign_biz_token_settles_nothing(make_tenant, post_form):
    owner, other = make_tenant(name="owner-bank", call_quota=10), make_tenant(name="other-bank")
    biz_token = post_form(still_form(owner)).json()["biz_token"]
    redis_client().delete(redis_key("session", biz_token))
    for tenant, token in ((other, biz_token), (owner, "no-such-token")):
        answer = post_form({"sign": tenant.sign(), "sign_version": "hmac_sha1",
                            "biz_token": token}, path=VERIFY)
        assert answer.json()["result_message"] == "BIZ_TOKEN_DENIED"
    assert BizTokenRecord.objects.get(biz_token=biz_token).consumed_at is None
    assert not VerificationRecord.objects.exists()
    owner.app.refresh_from_db()
    assert owner.app.calls_used == 1


def test_a_nul_byte_in_a_field_is_a_bad_argument_not_a_500(acme, post_form):
    """Found by tests/test_fuzz.py: PostgreSQL cannot compare text holding NUL, and a biz_token
    or video_key with one answered 500."""
    signed = {"sign": acme.sign(), "sign_version": "hmac_sha1"}
    verify = post_form({**signed, "biz_token": "abc\x00def"}, path=VERIFY)
    assert (verify.status_code, verify.json()["error"]) == (400, "BAD_ARGUMENTS: biz_token")
    media = post_form({**signed, "video_key": "\x00"}, path="/faceid/v3/sdk/get_liveness_video")
    assert (media.status_code, media.json()["error"]) == (400, "BAD_ARGUMENTS: video_key")


def test_the_sweep_settles_lost_sessions_nobody_came_back_for(make_tenant, post_form):
    from apps.faceid.verification import lost_sessions_sweep

    tenant = make_tenant(name="sweep-bank", call_quota=10)
    lost, kept = (post_form(still_form(tenant)).json()["biz_token"] for _ in range(2))
    redis_client().delete(redis_key("session", lost))
    assert lost_sessions_sweep() == 1
    assert lost_sessions_sweep() == 0                                   # once
    assert BizTokenRecord.objects.get(biz_token=lost).consumed_at is not None
    assert BizTokenRecord.objects.get(biz_token=kept).consumed_at is None
    assert VerificationRecord.objects.get(biz_token=lost).liveness == {"session": "lost"}
    tenant.app.refresh_from_db()
    assert tenant.app.calls_used == 1


def test_a_session_just_consumed_by_a_verify_is_not_taken_for_lost(acme, post_form):
    """The verify that consumed it leaves a tombstone until it records the outcome."""
    from apps.faceid.sessions import session_consume
    from apps.faceid.verification import lost_session_settle, lost_sessions_sweep

    biz_token = post_form(still_form(acme)).json()["biz_token"]
    assert session_consume(biz_token=biz_token) is not None            # a verify, mid-way
    assert lost_session_settle(app=acme.app, biz_token=biz_token, request_id="r") is False
    assert lost_sessions_sweep() == 0
    assert BizTokenRecord.objects.get(biz_token=biz_token).consumed_at is None
