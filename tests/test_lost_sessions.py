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
