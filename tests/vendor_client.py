"""A client of the vendor contract written from SPEC.md alone, independent of our code.

    raw  = "a={api_key}&b={expire_time}&c={current_time}&d={random}"
    sign = base64(hmac_sha1(api_secret, raw) + raw)
"""

import base64
import hashlib
import hmac
import random
import time


def vendor_sign(api_key: str, api_secret: str, *, valid_for: int = 100,
                current_time: int | None = None, expire_time: int | None = None,
                rnd: str | None = None) -> str:
    now = int(time.time()) if current_time is None else current_time
    expire = now + valid_for if expire_time is None else expire_time
    rnd = rnd if rnd is not None else "".join(random.choice("0123456789") for _ in range(10))
    raw = f"a={api_key}&b={expire}&c={now}&d={rnd}"
    digest = hmac.new(api_secret.encode("utf-8"), raw.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest + raw.encode("utf-8")).decode("ascii")


def one_time_sign(api_key: str, api_secret: str, **kwargs) -> str:
    return vendor_sign(api_key, api_secret, expire_time=0, **kwargs)
