"""The dashboard's figures: per app, UTC day and surface, the calls, how many passed and how
many were attacks (by species), and the median and p95 time.

Definitions (docs/ADMIN.md says the same for the operator):
- FaceID: one call is one VerificationRecord (a verify that ended, whatever its result). It
  passed when the liveness check passed: result SUCCESS (1000) or PASS_LIVING_NOT_THE_SAME
  (2000, live but another person). It was an attack when the result is FAIL_LIVING_FACE_ATTACK
  (4100) or REPLACED_FACE_ATTACK (4112). Its time is `time_used_ms` (verify's own clock).
- Single-image, per contract: one call is one SingleImageCall; passed means verdict "live",
  attack means verdict "attack"; the other calls ended without a verdict (no face, bad image,
  ...). Its time is `duration_ms`.
- pass rate and attack rate are shares of all calls in the group (a call without a verdict
  counts in the denominator: it is a call the app made and did not get a pass for).
- p95 is the nearest-rank percentile: the smallest recorded time that at least 95% of the
  group's times do not exceed.
"""

import math
import statistics
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from django.db.models import Count, Q
from django.db.models.functions import TruncDate

from apps.faceid.models import VerificationRecord
from apps.faceid.results import RESULT_CODES
from apps.single_image.models import SingleImageCall
from apps.tenants.models import ApiApp
from ml.jobs import Check

FACEID_PASSED_CODES = (RESULT_CODES["SUCCESS"], RESULT_CODES["PASS_LIVING_NOT_THE_SAME"])
FACEID_ATTACK_CODES = (RESULT_CODES["FAIL_LIVING_FACE_ATTACK"],
                       RESULT_CODES["REPLACED_FACE_ATTACK"])
# A replaced face has no PAD class of its own; a presentation attack caught by the flash or
# motion evidence may carry no probabilities: both are named rather than left blank.
FACE_REPLACED_SPECIES = "face_replaced"
UNNAMED_SPECIES = "unnamed"

FACEID_SURFACE = "faceid"
DEFAULT_DAYS = 14


def single_image_surface(contract: str) -> str:
    return f"single_image_{contract}"


SURFACES = [FACEID_SURFACE, *(single_image_surface(c.value) for c in SingleImageCall.Contract)]


@dataclass
class Figures:
    """One app's calls on one surface on one UTC day."""

    app_id: int
    app_name: str
    day: date
    surface: str
    calls: int = 0
    passed: int = 0
    attacks: int = 0
    species: dict[str, int] = field(default_factory=dict)
    durations_ms: list[int] = field(default_factory=list, repr=False)

    @property
    def other(self) -> int:
        return self.calls - self.passed - self.attacks

    @property
    def pass_rate(self) -> float:
        return self.passed / self.calls if self.calls else 0.0

    @property
    def attack_rate(self) -> float:
        return self.attacks / self.calls if self.calls else 0.0

    @property
    def pass_percent(self) -> float:
        return 100 * self.pass_rate

    @property
    def attack_percent(self) -> float:
        return 100 * self.attack_rate

    @property
    def median_ms(self) -> float | None:
        return statistics.median(self.durations_ms) if self.durations_ms else None

    @property
    def p95_ms(self) -> int | None:
        return percentile_nearest_rank(self.durations_ms, 95)


def percentile_nearest_rank(values: Iterable[int], percent: float) -> int | None:
    ordered = sorted(values)
    if not ordered:
        return None
    rank = math.ceil(percent / 100 * len(ordered))
    return ordered[max(rank, 1) - 1]


def day_range(days: int, *, today: date | None = None) -> tuple[date, date]:
    """The last `days` UTC days, today included: (first, last)."""
    last = today or datetime.now(UTC).date()
    return last - timedelta(days=max(days, 1) - 1), last


def faceid_species(attack_result: dict | None, passive: dict | None, result_code: int) -> str:
    """The attack's species: the passive decision's most probable non-live class when it was
    the check that failed; otherwise the failed check's name (planarity, flash, device)."""
    if result_code == RESULT_CODES["REPLACED_FACE_ATTACK"]:
        return FACE_REPLACED_SPECIES
    failed = (attack_result or {}).get("failed_check")
    if failed is not None and failed != Check.PASSIVE.value:
        return failed
    probabilities = (passive or {}).get("probabilities") or {}
    attacks = {name: p for name, p in probabilities.items() if name != "live"}
    return max(attacks, key=attacks.__getitem__) if attacks else UNNAMED_SPECIES


def dashboard_figures(*, first: date, last: date, app_id: int | None = None) -> list[Figures]:
    """Every (app, day, surface) that had calls between `first` and `last` (UTC days, both
    included), ordered by app name, day and surface."""
    start = datetime.combine(first, time.min, tzinfo=UTC)
    end = datetime.combine(last + timedelta(days=1), time.min, tzinfo=UTC)
    names = dict(ApiApp.objects.values_list("id", "name"))
    groups: dict[tuple[int, date, str], Figures] = {}

    def group(app: int, day: date, surface: str) -> Figures:
        key = (app, day, surface)
        if key not in groups:
            groups[key] = Figures(app_id=app, app_name=names.get(app, str(app)), day=day,
                                  surface=surface)
        return groups[key]

    in_range = Q(created_at__gte=start, created_at__lt=end)
    if app_id is not None:
        in_range &= Q(app_id=app_id)
    utc_day = TruncDate("created_at", tzinfo=UTC)

    # Counts are grouped in the database. Medians and percentiles are not portable SQL, so the
    # durations of each group are read and ranked here: a few thousand integers a day per app,
    # which is cheap next to one verify.
    verifications = VerificationRecord.objects.filter(in_range).annotate(day=utc_day)
    for row in verifications.values("app_id", "day").annotate(
            calls=Count("id"), passed=Count("id", filter=Q(result_code__in=FACEID_PASSED_CODES)),
            attacks=Count("id", filter=Q(result_code__in=FACEID_ATTACK_CODES))):
        figures = group(row["app_id"], row["day"], FACEID_SURFACE)
        figures.calls, figures.passed, figures.attacks = row["calls"], row["passed"], row["attacks"]
    # The species is read from the records' JSON, so attacks are tallied here.
    for app, day, code, attack_result, passive in verifications.filter(
            result_code__in=FACEID_ATTACK_CODES).values_list(
                "app_id", "day", "result_code", "attack_result", "passive"):
        species = group(app, day, FACEID_SURFACE).species
        name = faceid_species(attack_result, passive, code)
        species[name] = species.get(name, 0) + 1
    for app, day, duration in verifications.values_list("app_id", "day", "time_used_ms"):
        group(app, day, FACEID_SURFACE).durations_ms.append(duration)

    calls = SingleImageCall.objects.filter(in_range).annotate(day=utc_day)
    for row in calls.values("app_id", "day", "contract").annotate(
            calls=Count("id"), passed=Count("id", filter=Q(verdict="live")),
            attacks=Count("id", filter=Q(verdict="attack"))):
        figures = group(row["app_id"], row["day"], single_image_surface(row["contract"]))
        figures.calls, figures.passed, figures.attacks = row["calls"], row["passed"], row["attacks"]
    for row in calls.filter(verdict="attack").values(
            "app_id", "day", "contract", "attack_species").annotate(n=Count("id")):
        species = group(row["app_id"], row["day"], single_image_surface(row["contract"])).species
        name = row["attack_species"] or UNNAMED_SPECIES
        species[name] = species.get(name, 0) + row["n"]
    for app, day, contract, duration in calls.values_list("app_id", "day", "contract",
                                                          "duration_ms"):
        group(app, day, single_image_surface(contract)).durations_ms.append(duration)

    return sorted(groups.values(),
                  key=lambda f: (f.app_name, f.day, SURFACES.index(f.surface)))


@dataclass
class DayTotals:
    """One app's day over every surface: what a chart's bar shows."""

    day: date
    calls: int = 0
    passed: int = 0
    attacks: int = 0

    @property
    def other(self) -> int:
        return self.calls - self.passed - self.attacks


def daily_totals(figures: list[Figures], *, first: date, last: date) -> dict[str, list[DayTotals]]:
    """Per app name, one DayTotals for every day of the range (days without calls are zero, so
    a chart's bars line up with the calendar)."""
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    totals: dict[str, dict[date, DayTotals]] = defaultdict(
        lambda: {day: DayTotals(day) for day in days})
    for f in figures:
        bar = totals[f.app_name][f.day]
        bar.calls += f.calls
        bar.passed += f.passed
        bar.attacks += f.attacks
    return {name: list(by_day.values()) for name, by_day in sorted(totals.items())}
