"""Does the time of a refused signature tell whether its key exists? (hardening issue, item 5)

For both signature modes (FaceID's HMAC `sign`, the single-image x-ca signature) it times,
in-process and interleaved, the authentication of (a) a known key with a wrong signature and
(b) an unknown key, N times each, and prints the medians and their difference; a difference
well inside the run-to-run spread means the key's existence does not show. Writes
bench/results/auth_timing.json.

    .venv/bin/python bench/auth_timing.py [--n 3000]
"""

import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from _harness import REPO, bench_env, ensure_database, write_result  # noqa: E402


def median_us(samples: list[float]) -> float:
    return round(statistics.median(samples) * 1e6, 2)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=3000)
    args = parser.parse_args()

    env = bench_env()
    ensure_database(env)
    os.environ.update(env)
    sys.path.insert(0, str(REPO))
    import django

    django.setup()
    from apps.tenants.error_codes import AccessDenied
    from apps.tenants.services import (
        api_app_authenticate,
        api_app_authenticate_xca,
        api_app_create,
        xca_signature,
    )
    from apps.tenants.signatures import sign_make

    app, credentials = api_app_create(name=f"timing-{time.time_ns()}")
    now = int(time.time())

    def hmac_sign(key: str) -> str:
        return sign_make(key, "not-the-secret-" + "x" * 16, expire_time=now + 3600,
                         current_time=now, random="1234567890")

    cases = {
        "hmac": {"known_key_wrong_signature": lambda: api_app_authenticate(
                     sign=hmac_sign(app.api_key)),
                 "unknown_key": lambda: api_app_authenticate(sign=hmac_sign("no-such-key-0000"))},
        "xca": {"known_key_wrong_signature": lambda: api_app_authenticate_xca(
                    api_key=app.api_key, timestamp_ms=str(now * 1000),
                    signature=xca_signature(app.api_key, str(now * 1000), "wrong")),
                "unknown_key": lambda: api_app_authenticate_xca(
                    api_key="no-such-key-0000", timestamp_ms=str(now * 1000),
                    signature=xca_signature("no-such-key-0000", str(now * 1000), "wrong"))},
    }
    figures: dict = {"n": args.n, "credentials_checked": bool(credentials.api_secret)}
    for mode, calls in cases.items():
        samples: dict[str, list[float]] = {name: [] for name in calls}
        for _ in range(args.n):
            for name, call in calls.items():          # interleaved: drift hits both alike
                started = time.perf_counter()
                try:
                    call()
                except AccessDenied:
                    pass
                samples[name].append(time.perf_counter() - started)
        medians = {name: median_us(values) for name, values in samples.items()}
        spread = {name: round((statistics.quantiles(values, n=4)[2]
                               - statistics.quantiles(values, n=4)[0]) * 1e6, 2)
                  for name, values in samples.items()}
        figures[mode] = {"median_us": medians, "interquartile_us": spread,
                         "known_minus_unknown_us": round(
                             medians["known_key_wrong_signature"] - medians["unknown_key"], 2)}
    write_result("auth_timing", figures)


if __name__ == "__main__":
    main()
