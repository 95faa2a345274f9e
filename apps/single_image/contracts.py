"""The three vendor contracts: how each reads its request and writes its answers.

Each contract maps every failure Kind to (HTTP status, code, message) in its own format.
Contract codes ride on HTTP 200 as the vendors' clients expect; refusals of the platform
itself (credentials 401, access 403, limits 429) and internal failures (500) also carry the
contract's body. Codes beyond a seed's own table are ours and documented in
docs/SINGLE_IMAGE.md.
"""

import hashlib
import hmac
import json
import uuid

from django.conf import settings

from apps.core.fetch import FetchError, FetchLimits, FetchTooLarge, fetch_url
from apps.core.request_context import elapsed_ms
from apps.tenants.models import ApiApp
from apps.tenants.services import api_app_secret

from .faces import attack_species, largest_face, live_probability, synthetic_probability
from .failures import Failure, Kind
from .inputs import MiB, base64_picture, picture_check
from .messages import Incoming, Parsed, Verdict
from .scores import from_vendor_scale, on_vendor_scale


def json_object(incoming: Incoming) -> dict:
    """The body as a JSON object. Whatever JSON cannot be read is the contract's bad request:
    not UTF-8, not JSON, nesting deeper than the parser's recursion allows, an integer of more
    digits than Python converts (4300), a number too large for a float."""
    try:
        data = json.loads(incoming.body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError, OverflowError):
        raise Failure(Kind.BAD_REQUEST, "the body is not JSON") from None
    if not isinstance(data, dict):
        raise Failure(Kind.BAD_REQUEST, "the body is not a JSON object")
    return data


class Contract:
    """A vendor's format. `codes` answers every failure Kind (checked when a contract class is
    defined, so a new Kind without an answer fails at import rather than as a KeyError and a
    500 on the first request that meets it); where a seed has no such error, its nearest
    documented answer, written down in docs/SINGLE_IMAGE.md."""

    seed: str                # the contract's id in call records ("000", "001", "002")
    max_body_bytes: int
    attributes = False
    codes: dict

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        missing = [kind.value for kind in Kind if kind not in cls.codes]
        if missing:
            raise TypeError(f"{cls.__name__} has no answer for {', '.join(missing)}")

    def parse(self, incoming: Incoming, parsed: Parsed, app: ApiApp) -> None:
        raise NotImplementedError

    def answer(self, analysis: dict, parsed: Parsed, incoming: Incoming,
               started: float) -> tuple[int, dict]:
        raise NotImplementedError

    def verdict(self, face: dict, parsed: Parsed) -> Verdict:
        """What the answer says of `face`; by default our operating point decides (seeds 000
        and 002; seed 002 answers scores only, so its record keeps the verdict we would give)."""
        live = live_probability(face)
        return self._verdict(live, threshold=settings.PAD_LIVE_THRESHOLD,
                             is_live=live >= settings.PAD_LIVE_THRESHOLD, face=face)

    @staticmethod
    def _verdict(live: float, *, threshold: float, is_live: bool, face: dict) -> Verdict:
        return Verdict(live=is_live, live_probability=live, threshold=threshold,
                       attack_species="" if is_live else attack_species(face))

    def refuse(self, failure: Failure, parsed: Parsed, incoming: Incoming,
               started: float) -> tuple[int, dict]:
        raise NotImplementedError


class BioDetection(Contract):
    """Seed 000: POST {uri}/biap/face/bio-detection, JSON."""

    seed = "000"
    max_body_bytes = 4 * MiB
    max_picture_bytes = 2 * MiB - 1          # "2MB 以下"
    file_types = {"png": "PNG", "jpg": "JPEG", "jpeg": "JPEG", "bmp": "BMP"}
    platforms = {"1", "2", "3", "4"}
    vendor_threshold = 0.471                 # the seed's ref_thres
    codes = {
        Kind.BAD_REQUEST: (200, "200006", "参数错误"),
        Kind.IMAGE_MISSING: (200, "200006", "参数错误"),
        Kind.IMAGE_FORMAT: (200, "200002", "图片格式错误"),
        Kind.IMAGE_TOO_SMALL: (200, "200002", "图片格式错误"),
        Kind.IMAGE_TOO_LARGE: (200, "200003", "图片过大"),
        Kind.IMAGE_TOKEN_MISMATCH: (200, "200004", "图片验签失败"),
        # no url input in this seed: a url problem is a parameter problem
        Kind.URL_FAILED: (200, "200006", "参数错误"),
        # the seed's own answer without a usable face: 200000 with have_face false (no face)
        # or is_alive false (a face too small or cut to judge); see refuse()
        Kind.NO_FACE: (200, "200000", "成功"),
        Kind.FACE_UNANALYSABLE: (200, "200000", "成功"),
        Kind.UNAUTHENTICATED: (401, "200001", "鉴权失败"),
        Kind.SIGNATURE_EXPIRED: (401, "200001", "鉴权失败"),
        Kind.FORBIDDEN: (403, "200007", "无访问权限"),
        Kind.LIMITED: (429, "200005", "调用超出限制"),
        Kind.UNAVAILABLE: (500, "200500", "服务内部错误"),
    }

    @staticmethod
    def _optional_string(data: dict, name: str, limit: int = 128) -> str:
        value = data.get(name)
        if value is None:
            return ""
        if not isinstance(value, str) or len(value) > limit:
            raise Failure(Kind.BAD_REQUEST, f"{name} must be a string of at most {limit}")
        return value

    def parse(self, incoming: Incoming, parsed: Parsed, app: ApiApp) -> None:
        data = json_object(incoming)
        request_id = data.get("request_id")
        if isinstance(request_id, str) and len(request_id) <= 128:
            parsed.request_id = request_id
        if not isinstance(request_id, str) or not request_id or len(request_id) > 128:
            raise Failure(Kind.BAD_REQUEST, "request_id is required (a string)")
        parsed.values["person_id"] = self._optional_string(data, "person_id")
        device = data.get("device")
        if device is not None:
            if not isinstance(device, dict):
                raise Failure(Kind.BAD_REQUEST, "device must be an object")
            for name in ("plat", "version", "model"):
                self._optional_string(device, name)
            if device.get("plat") not in (None, *self.platforms):
                raise Failure(Kind.BAD_REQUEST, "device.plat must be 1, 2, 3 or 4")
        upload = data.get("file")
        if not isinstance(upload, dict):
            raise Failure(Kind.BAD_REQUEST, "file is required (an object)")
        file_type = upload.get("type")
        if not isinstance(file_type, str) or file_type.lower() not in self.file_types:
            raise Failure(Kind.BAD_REQUEST, "file.type must be png, jpg, jpeg or bmp")
        if "data" not in upload or upload["data"] in ("", None):
            raise Failure(Kind.IMAGE_MISSING, "file.data is required")
        picture = base64_picture(upload["data"], max_bytes=self.max_picture_bytes)
        token = self._optional_string(upload, "token", limit=256)
        if token:
            expected = hmac.new(api_app_secret(app).encode(), picture, hashlib.sha256).hexdigest()
            if not hmac.compare_digest(expected, token.strip().lower()):
                raise Failure(Kind.IMAGE_TOKEN_MISMATCH)
        picture_check(picture, max_side=settings.IMAGE_MAX_SIDE)
        parsed.picture = picture

    def _envelope(self, code: str, msg: str, parsed: Parsed, started: float) -> dict:
        return {"code": code, "msg": msg, "cost_time": elapsed_ms(started),
                "request_id": parsed.request_id or uuid.uuid4().hex,
                "response_id": uuid.uuid4().hex}

    def answer(self, analysis, parsed, incoming, started):
        face = analysis.get("face")
        data = self._faceless_data(parsed, have_face=face is not None)
        if face is not None:
            live = live_probability(face)
            score = on_vendor_scale(live, ours=settings.PAD_LIVE_THRESHOLD,
                                    theirs=self.vendor_threshold)
            data["bio_score"] = repr(round(score, 6))
            data["is_alive"] = self.verdict(face, parsed).live
        return 200, {**self._envelope("200000", "成功", parsed, started), "data": data}

    def _faceless_data(self, parsed: Parsed, *, have_face: bool) -> dict:
        return {"person_id": parsed.values.get("person_id", ""), "bio_score": "0.0",
                "have_face": have_face, "is_alive": False,
                "ref_thres": str(self.vendor_threshold)}

    def refuse(self, failure, parsed, incoming, started):
        status, code, msg = self.codes[failure.kind]
        body = self._envelope(code, msg, parsed, started)
        if failure.kind in (Kind.NO_FACE, Kind.FACE_UNANALYSABLE):
            body["data"] = self._faceless_data(
                parsed, have_face=failure.kind == Kind.FACE_UNANALYSABLE)
        return status, body


class FaceLiveness(Contract):
    """Seed 001: POST /api/face_liveness/v1, JSON {image_base64, thresh}."""

    seed = "001"
    max_body_bytes = 28 * MiB                 # 20 MB of picture as base64, and the JSON
    max_picture_bytes = 20 * MiB - 1          # "小于20M"
    min_side, max_side = 15, 8192             # "像素[15,8192]"
    default_thresh = 0.8                      # the seed's default, on its own scale
    codes = {
        Kind.BAD_REQUEST: (200, 4001, "invalid request", "图片为空或格式错误"),
        Kind.IMAGE_MISSING: (200, 4001, "image is empty", "图片为空或格式错误"),
        Kind.IMAGE_FORMAT: (200, 4001, "image format error", "图片为空或格式错误"),
        Kind.IMAGE_TOO_SMALL: (200, 4001, "image smaller than 15 px", "图片为空或格式错误"),
        Kind.IMAGE_TOO_LARGE: (200, 4001, "image larger than 20 MB or 8192 px",
                               "图片为空或格式错误"),
        Kind.NO_FACE: (200, 4002, "no face detected", "未检测到人脸"),
        # the seed's nearest answers: no usable face is 4002; a picture that could not be had
        # or proven is 4001 (neither token nor url exists in this seed)
        Kind.FACE_UNANALYSABLE: (200, 4002, "face too small or cut to analyse", "未检测到人脸"),
        Kind.IMAGE_TOKEN_MISMATCH: (200, 4001, "image signature mismatch",
                                    "图片为空或格式错误"),
        Kind.URL_FAILED: (200, 4001, "image could not be fetched", "图片为空或格式错误"),
        Kind.UNAUTHENTICATED: (401, 401, "unauthorized", "鉴权失败"),
        Kind.SIGNATURE_EXPIRED: (401, 401, "signature expired or already used",
                                 "签名过期或已使用"),
        Kind.FORBIDDEN: (403, 403, "forbidden", "无访问权限"),
        Kind.LIMITED: (429, 429, "too many requests", "调用超出限制"),
        Kind.UNAVAILABLE: (500, 5000, "internal error, please retry", "服务内部错误,请稍后重试"),
    }

    def parse(self, incoming, parsed, app):
        data = json_object(incoming)
        thresh = data.get("thresh", self.default_thresh)
        if isinstance(thresh, str):
            try:
                if not thresh.isascii():        # float() also reads "０.８"
                    raise ValueError(thresh)
                thresh = float(thresh)
            except ValueError:
                raise Failure(Kind.BAD_REQUEST, "thresh must be a number") from None
        if isinstance(thresh, bool) or not isinstance(thresh, int | float) or not 0 <= thresh <= 1:
            raise Failure(Kind.BAD_REQUEST, "thresh must be a number in [0, 1]")
        parsed.values["thresh"] = float(thresh)
        if data.get("image_base64") in (None, ""):
            raise Failure(Kind.IMAGE_MISSING, "image_base64 is required")
        picture = base64_picture(data["image_base64"], max_bytes=self.max_picture_bytes)
        picture_check(picture, max_side=self.max_side, min_side=self.min_side)
        parsed.picture = picture

    def _body(self, code, msg, msg_cn, incoming, data) -> dict:
        return {"code": code, "msg": msg, "msg_cn": msg_cn, "success": code == 200,
                "request_id": incoming.request_id, "data": data}

    def _score(self, face: dict) -> float:
        return round(on_vendor_scale(live_probability(face), ours=settings.PAD_LIVE_THRESHOLD,
                                     theirs=self.default_thresh), 4)

    def verdict(self, face, parsed):
        """The caller's `thresh` decides, on the seed's scale; the record keeps it on ours."""
        thresh = parsed.values["thresh"]
        return self._verdict(live_probability(face),
                             threshold=from_vendor_scale(thresh, ours=settings.PAD_LIVE_THRESHOLD,
                                                         theirs=self.default_thresh),
                             is_live=self._score(face) > thresh, face=face)

    def answer(self, analysis, parsed, incoming, started):
        face = largest_face(analysis)
        score = self._score(face)
        verdict = self.verdict(face, parsed)
        is_live = verdict.live
        data = {"liveness_score": score, "is_live": is_live,
                "risk_reason": verdict.attack_species}
        if is_live:
            return 200, self._body(200, "ok", "成功", incoming, data)
        return 200, self._body(4004, "suspected spoof, liveness not passed",
                               "疑似翻拍或攻击,未通过活体", incoming, data)

    def refuse(self, failure, parsed, incoming, started):
        status, code, msg, msg_cn = self.codes[failure.kind]
        return status, self._body(code, msg, msg_cn, incoming, None)


class ImageLiveness(Contract):
    """Seed 002: /api/image_liveness, `image` (base64) or `url`; GET query, POST form or JSON."""

    seed = "002"
    max_body_bytes = 4 * MiB
    max_picture_bytes = 2 * MiB               # "不超过 2M"
    attributes = True
    live_threshold, synthetic_threshold = 0.3, 0.00048   # the seed's advice
    codes = {
        Kind.BAD_REQUEST: (200, 1, "图像格式错误"),
        Kind.IMAGE_MISSING: (200, 1, "图像格式错误"),
        Kind.IMAGE_FORMAT: (200, 1, "图像格式错误"),
        Kind.IMAGE_TOO_SMALL: (200, 1, "图像格式错误"),
        Kind.IMAGE_TOKEN_MISMATCH: (200, 1, "图像格式错误"),   # no token in this seed
        Kind.NO_FACE: (200, 2, "图片中没有人脸"),
        Kind.FACE_UNANALYSABLE: (200, 3, "无法解析人脸"),
        Kind.URL_FAILED: (200, 4, "URL 下载图片失败"),
        Kind.IMAGE_TOO_LARGE: (200, 5, "照片质量不合格，请重新上传（图片太大，不要超过 2M）"),
        Kind.UNAUTHENTICATED: (401, 401, "鉴权失败"),
        Kind.SIGNATURE_EXPIRED: (401, 401, "鉴权失败"),
        Kind.FORBIDDEN: (403, 403, "无访问权限"),
        Kind.LIMITED: (429, 429, "调用超出限制"),
        Kind.UNAVAILABLE: (500, 96, "交易失败，请稍后重试"),
    }

    def _fields(self, incoming: Incoming) -> dict:
        if incoming.method == "GET":
            return incoming.query
        if "json" in incoming.content_type or incoming.body[:1] == b"{":
            return json_object(incoming)
        return incoming.form

    def parse(self, incoming, parsed, app):
        fields = self._fields(incoming)
        image, url = fields.get("image"), fields.get("url")
        if isinstance(image, bytes):              # a multipart file upload: raw bytes
            if len(image) > self.max_picture_bytes:
                raise Failure(Kind.IMAGE_TOO_LARGE)
            picture = image
        elif image not in (None, ""):
            picture = base64_picture(image, max_bytes=self.max_picture_bytes)
        elif url not in (None, ""):
            if not isinstance(url, str):
                raise Failure(Kind.URL_FAILED, "url must be a string")
            picture = self._download(url)
        else:
            raise Failure(Kind.IMAGE_MISSING, "image or url is required")
        picture_check(picture, max_side=settings.IMAGE_MAX_SIDE)
        parsed.picture = picture

    def _download(self, url: str) -> bytes:
        limits = FetchLimits(max_bytes=self.max_picture_bytes,
                             timeout_seconds=settings.URL_FETCH_TIMEOUT_SECONDS,
                             max_redirects=settings.URL_FETCH_MAX_REDIRECTS,
                             allowed_networks=settings.URL_FETCH_ALLOWED_NETWORKS)
        try:
            return fetch_url(url, limits)
        except FetchTooLarge:
            raise Failure(Kind.IMAGE_TOO_LARGE, "the url's picture is over 2 MB") from None
        except FetchError as exc:
            raise Failure(Kind.URL_FAILED, exc.reason) from None

    def answer(self, analysis, parsed, incoming, started):
        face = largest_face(analysis, need_analysable=True)
        attributes, quality = face["attributes"], face["quality"]
        labelled = {name: {"probability": round(attributes[name]["probability"], 2),
                           "type": attributes[name]["type"]}
                    for name in ("gender", "glasses", "face_type", "face_shape", "expression")}
        spoofing = on_vendor_scale(synthetic_probability(face),
                                   ours=settings.PAD_SYNTHETIC_THRESHOLD,
                                   theirs=self.synthetic_threshold)
        liveness = on_vendor_scale(live_probability(face), ours=settings.PAD_LIVE_THRESHOLD,
                                   theirs=self.live_threshold)
        occlusion = quality["occlusion"]
        result = {
            "age": attributes["age"],
            "spoofing": float(f"{spoofing:.10g}"),
            "liveness": {"livemapscore": float(f"{liveness:.10g}")},
            **labelled,
            "quality": {
                "completeness": 1 if face["inside"] else 0,
                "illumination": int(round(quality["illumination"])),
                "blur": round(quality["blur"] / 100.0, 2),
                "occlusion": {region: round(occlusion[region], 2) for region in (
                    "left_eye", "right_eye", "mouth", "nose", "chin_contour", "right_cheek",
                    "left_cheek")},
            },
        }
        return 200, {"code": 0, "desc": "成功", "result": result}

    def refuse(self, failure, parsed, incoming, started):
        status, code, desc = self.codes[failure.kind]
        return status, {"code": code, "desc": desc}
