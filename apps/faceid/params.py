"""get_biz_token's parameters (seed 003): presence, types, ranges, defaults, per mode.

Parsing is pure: it takes the form's text fields and the names of the uploaded files and either
returns a BizTokenParams or raises the contract's first error, checking parameters in the
order the seed lists them. An empty optional value counts as not given.
"""

import re
from dataclasses import dataclass, field

from apps.core.fetch import FetchError, url_check

from .errors import bad_argument, missing_argument

LIVENESS_TYPES = ("meglive", "still", "flash", "raw_image")
COMPARISON_TYPES = ("0", "1")
MAX_ID_BYTES = 128
MAX_NAME_CHARS = 100

# name -> (accepted values, default)
_CHOICES: dict[str, tuple[tuple[str, ...], str]] = {
    "face_replace_detection": (("0", "1"), "1"),
    "eyes_close_detection": (("0", "1"), "0"),
    "fail_when_multiple_faces": (("0", "1"), "1"),
    "return_faces": (("0", "1"), "0"),
    "verbose": (("0", "1"), "1"),
    "security_level": (("1", "2", "3", "4"), "2"),
    "force_compare": (("0", "1"), "0"),
    "multi_oriented_detection": (("0", "1"), "1"),
    "liveness_level": (("0", "1", "2"), "0"),
    "maximum_brightness": (("0", "1"), "0"),
    "get_liveness_video": (("0", "1", "2", "3"), "0"),
    "device_risk": (("0", "1"), "0"),
    "multiple_faces_detection": (("0", "1"), "0"),
}
# name -> (lowest, highest, default); liveness_timeout's default depends on liveness_type.
_INT_RANGES: dict[str, tuple[int, int, int | None]] = {
    "liveness_timeout": (5, 60, None),
    "liveness_action_count": (1, 3, 3),
    "flash_liveness_timeout": (60, 180, 120),
    "face_quality_threshold": (0, 100, 30),
}
_LIVENESS_TIMEOUT_DEFAULT = {"meglive": 10, "still": 60, "flash": 60, "raw_image": 60}

# The seed's order of the parameters after the comparison mode's own, which is the order
# errors are reported in; "image" (required for raw_image) sits where the seed lists it.
_OPTIONAL_ORDER = (
    "liveness_timeout", "liveness_action_count", "face_replace_detection",
    "eyes_close_detection", "flash_liveness_timeout", "image", "fail_when_multiple_faces",
    "face_quality_threshold", "return_faces", "verbose", "security_level", "force_compare",
    "multi_oriented_detection", "liveness_level", "maximum_brightness", "get_liveness_video",
    "device_risk", "multiple_faces_detection",
)

# ASCII digits only: `\d` and int() also take other scripts' digits ("١٠", "１０").
_INTEGER = re.compile(r"[0-9]{1,9}")
_ID_NUMBER = re.compile(r"[0-9]{17}[0-9X]")
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK_CHARS = "10X98765432"


def id_number_checksum_ok(number: str) -> bool:
    """GB 11643-1999: the 18th character is a mod-11 checksum of the first 17 digits."""
    if not _ID_NUMBER.fullmatch(number):
        return False
    total = sum(int(digit) * weight for digit, weight in zip(number[:17], _ID_WEIGHTS,
                                                             strict=True))
    return _ID_CHECK_CHARS[total % 11] == number[17]


@dataclass(frozen=True)
class BizTokenParams:
    liveness_type: str
    comparison_type: str
    uuid: str = ""
    biz_no: str = ""
    idcard_name: str = ""
    idcard_number: str = ""
    # Image parameters this request must / may carry, in the order they are checked.
    images: tuple[str, ...] = ()
    # Every optional setting with its effective value (given or default).
    options: dict[str, int | str] = field(default_factory=dict)


def _text(form, key: str) -> str:
    value = form.get(key)
    return value if isinstance(value, str) else ""


def _require(form, key: str) -> str:
    value = _text(form, key)
    if value == "":
        raise missing_argument(key)
    return value


def _bytes_at_most(key: str, value: str, limit: int) -> str:
    if len(value.encode("utf-8")) > limit:
        raise bad_argument(key)
    return value


def _option(form, key: str, liveness_type: str) -> int | str:
    raw = _text(form, key)
    if key in _CHOICES:
        accepted, default = _CHOICES[key]
        if raw == "":
            return default
        if raw not in accepted:
            raise bad_argument(key)
        return raw
    low, high, int_default = _INT_RANGES[key]
    if raw == "":
        return int_default if int_default is not None else _LIVENESS_TIMEOUT_DEFAULT[liveness_type]
    if not _INTEGER.fullmatch(raw) or not low <= int(raw) <= high:
        raise bad_argument(key)
    return int(raw)


def signature_fields(form) -> str:
    """sign and sign_version come first: nothing else is read before the caller is known."""
    sign = _require(form, "sign")
    if _require(form, "sign_version") != "hmac_sha1":
        raise bad_argument("sign_version")
    return sign


def key_and_secret_fields(form) -> tuple[str, str]:
    """api_key and api_secret (the Lite surface's credentials) come first, as sign does."""
    return _require(form, "api_key"), _require(form, "api_secret")


def biz_token_params_parse(form, file_names: set[str]) -> BizTokenParams:
    liveness_type = _require(form, "liveness_type")
    if liveness_type not in LIVENESS_TYPES:
        raise bad_argument("liveness_type")
    comparison_type = _require(form, "comparison_type")
    if comparison_type not in COMPARISON_TYPES:
        raise bad_argument("comparison_type")

    def given(name: str) -> bool:
        return name in file_names or _text(form, name) != ""

    uuid = idcard_name = idcard_number = ""
    if comparison_type == "1":
        idcard_name = _bytes_at_most("idcard_name", _require(form, "idcard_name"),
                                     MAX_NAME_CHARS * 4).strip()
        if not idcard_name or len(idcard_name) > MAX_NAME_CHARS:
            raise bad_argument("idcard_name")
        idcard_number = _require(form, "idcard_number").strip().upper()
        if not id_number_checksum_ok(idcard_number):
            raise bad_argument("idcard_number")
        images = tuple(p for p in ("image_ref1", "image_ref2") if given(p))
        uuid = _bytes_at_most("uuid", _text(form, "uuid"), MAX_ID_BYTES)
    else:
        uuid = _bytes_at_most("uuid", _require(form, "uuid"), MAX_ID_BYTES)
        if not given("image_ref1"):
            raise missing_argument("image_ref1")
        images = ("image_ref1",) + (("image_ref2",) if given("image_ref2") else ())
    biz_no = _bytes_at_most("biz_no", _text(form, "biz_no"), MAX_ID_BYTES)

    options: dict[str, int | str] = {}
    for key in _OPTIONAL_ORDER:
        if key == "image":
            if liveness_type == "raw_image":
                if not given("image"):
                    raise missing_argument("image")
                images = images + ("image",)
            continue
        options[key] = _option(form, key, liveness_type)
    return BizTokenParams(liveness_type=liveness_type, comparison_type=comparison_type,
                          uuid=uuid, biz_no=biz_no, idcard_name=idcard_name,
                          idcard_number=idcard_number, images=images, options=options)


# FaceID Lite's get_token (docs/WEB.md): its own fields, then get_biz_token's for the session.
LITE_LIVENESS_TYPES = ("meglive", "still", "flash")   # raw_image has no capture to make
LITE_LIVENESS_TYPE_DEFAULT = "meglive"
MAX_URL_BYTES = 2048
MAX_BIZ_EXTRA_DATA_BYTES = 4096
MAX_WEB_TITLE_BYTES = 32
# How the capture page sends the browser back to return_url (the vendor's action_http_method).
LITE_RETURN_METHODS = ("GET", "POST")


@dataclass(frozen=True)
class LiteParams:
    return_url: str
    notify_url: str
    biz_no: str
    biz_extra_data: str
    web_title: str
    action_http_method: str
    session: BizTokenParams     # the biz_token session the capture page will run


def _absolute_http_url(form, key: str) -> str:
    url = _bytes_at_most(key, _require(form, key), MAX_URL_BYTES)
    try:
        url_check(url)
    except FetchError:
        raise bad_argument(key) from None
    return url


def lite_params_parse(form, file_names: set[str]) -> LiteParams:
    """Lite's fields in the vendor's order, then get_biz_token's comparison parameters and
    options, parsed by biz_token_params_parse (liveness_type defaults to meglive here and
    cannot be raw_image). Only the URLs' form is checked here; where notify_url leads is the
    issuer's check (lite.py), since it needs the network."""
    return_url = _absolute_http_url(form, "return_url")
    notify_url = _absolute_http_url(form, "notify_url")
    biz_no = _bytes_at_most("biz_no", _require(form, "biz_no"), MAX_ID_BYTES)
    biz_extra_data = _bytes_at_most("biz_extra_data", _text(form, "biz_extra_data"),
                                    MAX_BIZ_EXTRA_DATA_BYTES)
    web_title = _bytes_at_most("web_title", _text(form, "web_title"), MAX_WEB_TITLE_BYTES)
    action_http_method = _text(form, "action_http_method") or LITE_RETURN_METHODS[0]
    if action_http_method not in LITE_RETURN_METHODS:
        raise bad_argument("action_http_method")
    liveness_type = _text(form, "liveness_type") or LITE_LIVENESS_TYPE_DEFAULT
    if liveness_type not in LITE_LIVENESS_TYPES:
        raise bad_argument("liveness_type")
    fields = {key: form.get(key) for key in form}
    fields["liveness_type"] = liveness_type
    session = biz_token_params_parse(fields, file_names)
    return LiteParams(return_url=return_url, notify_url=notify_url, biz_no=biz_no,
                      biz_extra_data=biz_extra_data, web_title=web_title,
                      action_http_method=action_http_method, session=session)
