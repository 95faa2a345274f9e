"""Settings by owner: each name is set in exactly one settings module, and Django's own upload
limit lets the largest legal body of every surface reach the view that answers it."""

import ast
from pathlib import Path

from django.conf import settings

from apps.core.middleware import limits_own_body
from apps.faceid.apis import BizTokenCreateApi
from apps.single_image.apis import BioDetectionApi, FaceLivenessApi, ImageLivenessApi
from apps.single_image.contracts import BioDetection, FaceLiveness, ImageLiveness

SETTINGS = Path(__file__).resolve().parent.parent / "liveness_project" / "settings"


def test_each_setting_is_set_in_exactly_one_module():
    owners: dict[str, list[str]] = {}
    for path in sorted(SETTINGS.glob("*.py")):
        for node in ast.parse(path.read_text()).body:
            targets = node.targets if isinstance(node, ast.Assign) else (
                [node.target] if isinstance(node, ast.AnnAssign) else [])
            for target in targets:
                if isinstance(target, ast.Name) and target.id.isupper():
                    owners.setdefault(target.id, []).append(path.name)
    assert len(owners) > 40
    assert {name: files for name, files in owners.items() if len(files) > 1} == {}


def test_django_lets_every_surfaces_largest_body_through_to_its_view():
    largest = max(settings.FACEID_MAX_REQUEST_BYTES, settings.SINGLE_IMAGE_MAX_REQUEST_BYTES,
                  *(c.max_body_bytes for c in (BioDetection, FaceLiveness, ImageLiveness)))
    assert settings.SINGLE_IMAGE_MAX_REQUEST_BYTES >= max(
        c.max_body_bytes for c in (BioDetection, FaceLiveness, ImageLiveness))
    assert settings.DATA_UPLOAD_MAX_MEMORY_SIZE > largest


def test_the_body_limit_asks_the_view_not_the_path():
    assert all(limits_own_body(api.as_view())
               for api in (BioDetectionApi, FaceLivenessApi, ImageLivenessApi))
    assert not limits_own_body(BizTokenCreateApi.as_view())


def test_a_passive_threshold_under_the_vetos_floor_is_a_system_check_warning(settings):
    """`manage.py check` warns an operator whose PAD_LIVE_THRESHOLD would accept faces the
    real-trained members' veto is never asked about; the default and every level's threshold
    raise nothing."""
    from django.core.management import call_command

    from apps.core.checks import passive_threshold_under_the_veto
    from ml.jobs import VETO_CONSULT_FLOOR

    assert passive_threshold_under_the_veto() == []              # the default, 0.5
    settings.PAD_LIVE_THRESHOLD = VETO_CONSULT_FLOOR
    assert passive_threshold_under_the_veto() == []
    settings.PAD_LIVE_THRESHOLD = 0.01
    (warning,) = passive_threshold_under_the_veto()
    assert warning.id == "core.W001" and "0.01" in warning.msg
    # registered: the check command runs it (a warning does not fail the command)
    import io
    out = io.StringIO()
    call_command("check", stdout=out, stderr=out)
    assert "core.W001" in out.getvalue()
