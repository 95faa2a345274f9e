"""Django system checks (`manage.py check`, and every management command that starts the
service): settings that run but defeat a safeguard."""

from django.conf import settings
from django.core import checks

from ml.jobs import VETO_CONSULT_FLOOR


@checks.register(checks.Tags.security)
def passive_threshold_under_the_veto(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """PAD_LIVE_THRESHOLD under the floor at which the real-trained members' veto is asked
    (ml/jobs.py VETO_CONSULT_FLOOR) accepts faces the veto never judged, real prints and
    screens among them."""
    threshold = settings.PAD_LIVE_THRESHOLD
    if threshold >= VETO_CONSULT_FLOOR:
        return []
    return [checks.Warning(
        f"PAD_LIVE_THRESHOLD={threshold} is under {VETO_CONSULT_FLOOR}, the lowest passive "
        "probability the real-trained members' veto is asked about: faces between the two pass "
        "unjudged by it",
        hint=f"Set PAD_LIVE_THRESHOLD to {VETO_CONSULT_FLOOR} or more (the default 0.5 is "
             "security level 2; docs/CONFIGURATION.md).",
        id="core.W001")]
