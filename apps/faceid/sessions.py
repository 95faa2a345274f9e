"""The one-hour, single-use liveness sessions, kept in Redis.

A session is one Redis hash `session:<biz_token>` with a TTL: field `meta` (JSON settings; the
KYC name and ID number encrypted) and one field per reference image (`image:<param>`). One key
means one TTL and one atomic consume: a Lua script reads and deletes the hash in one step, so
of any number of concurrent consumers exactly one gets the session. A consumed token leaves a
tombstone for the rest of its lifetime, so a second use can be told apart from an expired one.
"""

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass

from apps.core.crypto import decrypt_text, encrypt_text
from apps.core.redis import redis_client, redis_key

_META = "meta"
_IMAGE_PREFIX = "image:"
_CHALLENGE = "challenge"
_ATTEMPTS = "attempts"

# Issues a challenge to the SDK: counts the attempt and, within the limit, replaces the
# session's challenge; -1 when the session is gone, else the attempt number.
_CHALLENGE_SET = """
if redis.call('EXISTS', KEYS[1]) == 0 then
  return -1
end
local attempts = redis.call('HINCRBY', KEYS[1], 'attempts', 1)
if attempts <= tonumber(ARGV[2]) then
  redis.call('HSET', KEYS[1], 'challenge', ARGV[1])
end
return attempts
"""

_CONSUME = """
local fields = redis.call('HGETALL', KEYS[1])
if #fields == 0 then
  return false
end
local ttl = redis.call('PTTL', KEYS[1])
redis.call('DEL', KEYS[1])
if ttl > 0 then
  redis.call('SET', KEYS[2], ARGV[1], 'PX', ttl)
end
return fields
"""


@dataclass(frozen=True)
class Session:
    biz_token: str
    meta: dict
    images: dict[str, bytes]
    challenge: dict | None = None
    attempts: int = 0

    @property
    def idcard(self) -> dict:
        """The KYC name and ID number, decrypted (empty for comparison_type 0)."""
        blob = self.meta.get("idcard")
        return json.loads(decrypt_text(blob)) if blob else {}


def biz_token_ref(biz_token: str) -> str:
    """How logs and operations name a session: the biz_token is the SDK's bearer credential
    for the session's hour, so it is never written to a log; this short digest is."""
    return hashlib.sha256(biz_token.encode()).hexdigest()[:16]


def _session_key(biz_token: str) -> str:
    return redis_key("session", biz_token)


def _tombstone_key(biz_token: str) -> str:
    return redis_key("consumed", biz_token)


def session_store(*, biz_token: str, meta: dict, idcard: dict | None,
                  images: dict[str, bytes], ttl_seconds: int) -> None:
    meta = dict(meta)
    if idcard:
        meta["idcard"] = encrypt_text(json.dumps(idcard, ensure_ascii=False))
    mapping: dict[str, bytes | str] = {_META: json.dumps(meta, ensure_ascii=False)}
    mapping.update({_IMAGE_PREFIX + name: data for name, data in images.items()})
    key = _session_key(biz_token)
    pipe = redis_client().pipeline(transaction=True)
    pipe.hset(key, mapping=mapping)
    pipe.expire(key, ttl_seconds)
    pipe.execute()


def session_delete(*, biz_token: str) -> None:
    redis_client().delete(_session_key(biz_token))


def session_meta(*, biz_token: str) -> dict | None:
    raw = redis_client().hget(_session_key(biz_token), _META)
    return json.loads(raw) if raw is not None else None


def session_ttl(*, biz_token: str) -> int:
    """Seconds left; -2 when there is no such session."""
    return redis_client().ttl(_session_key(biz_token))


def session_consume(*, biz_token: str) -> Session | None:
    """Atomically takes the session out of Redis; None if it is gone (used or expired)."""
    raw = redis_client().eval(_CONSUME, 2, _session_key(biz_token), _tombstone_key(biz_token), b"1")
    if not raw:
        return None
    return _session_of(biz_token, {raw[i].decode(): raw[i + 1] for i in range(0, len(raw), 2)})


def _session_of(biz_token: str, fields: dict[str, bytes]) -> Session:
    meta = json.loads(fields.pop(_META))
    challenge = fields.pop(_CHALLENGE, None)
    attempts = int(fields.pop(_ATTEMPTS, 0))
    images = {name[len(_IMAGE_PREFIX):]: data for name, data in fields.items()
              if name.startswith(_IMAGE_PREFIX)}
    return Session(biz_token=biz_token, meta=meta, images=images, attempts=attempts,
                   challenge=json.loads(challenge) if challenge else None)


def session_read(*, biz_token: str) -> Session | None:
    """The session without consuming it (None when used, expired or unknown)."""
    raw = redis_client().hgetall(_session_key(biz_token))
    if not raw or _META.encode() not in raw:
        return None
    return _session_of(biz_token, {k.decode(): v for k, v in raw.items()})


def session_challenge_set(*, biz_token: str, challenge: dict, max_attempts: int) -> int:
    """Counts an SDK attempt and stores its challenge; returns the attempt number (over
    max_attempts: nothing stored) or -1 when the session is gone."""
    return int(redis_client().eval(_CHALLENGE_SET, 1, _session_key(biz_token),
                                   json.dumps(challenge), max_attempts))


def session_restore(*, session: Session, ttl_seconds: int) -> None:
    """Puts a consumed session back (its verification could not run): the token can be
    verified again for the rest of its life."""
    mapping: dict[str, bytes | str] = {_META: json.dumps(session.meta, ensure_ascii=False),
                                       _ATTEMPTS: str(session.attempts)}
    if session.challenge is not None:
        mapping[_CHALLENGE] = json.dumps(session.challenge)
    mapping.update({_IMAGE_PREFIX + name: data for name, data in session.images.items()})
    pipe = redis_client().pipeline(transaction=True)
    pipe.hset(_session_key(session.biz_token), mapping=mapping)
    pipe.expire(_session_key(session.biz_token), max(1, ttl_seconds))
    pipe.delete(_tombstone_key(session.biz_token))
    pipe.execute()


def session_was_consumed(*, biz_token: str) -> bool:
    return bool(redis_client().exists(_tombstone_key(biz_token)))


@dataclass(frozen=True)
class LiveSessionSummary:
    biz_token: str
    ttl: int
    meta: dict
    images: list[str]


def sessions_live(*, limit: int = 500) -> Iterator[LiveSessionSummary]:
    """Scans the live sessions (for the admin); bounded, never KEYS."""
    client = redis_client()
    prefix = _session_key("")
    seen = 0
    for key in client.scan_iter(match=prefix + "*", count=500):
        biz_token = key.decode()[len(prefix):]
        pipe = client.pipeline(transaction=False)
        pipe.hget(key, _META)
        pipe.ttl(key)
        pipe.hkeys(key)
        meta_raw, ttl, fields = pipe.execute()
        if meta_raw is None:
            continue  # expired between SCAN and read
        meta = json.loads(meta_raw)
        meta.pop("idcard", None)
        images = sorted(f.decode()[len(_IMAGE_PREFIX):] for f in fields
                        if f.decode().startswith(_IMAGE_PREFIX))
        yield LiveSessionSummary(biz_token=biz_token, ttl=ttl, meta=meta, images=images)
        seen += 1
        if seen >= limit:
            return

