"""The operator's dashboard (issue 15): its figures equal what the records say.

The records are written straight through the ORM for two apps over three UTC days with known
results, species and times; every figure the service and the page give is compared with one
computed here from the same list, by a separate route (plain loops, sorted lists)."""

import itertools
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import pytest
from django.contrib.auth import get_user_model

from apps.console.dashboard import (
    FACEID_SURFACE,
    dashboard_figures,
    day_range,
    single_image_surface,
)
from apps.faceid.models import VerificationRecord
from apps.single_image.models import SingleImageCall
from apps.tenants.models import ApiApp

TODAY = datetime.now(UTC).date()
FIRST, LAST = TODAY - timedelta(days=2), TODAY
DASHBOARD = "/admin/dashboard/"
# the admin's own pages carry SVG icons too: the dashboard's charts are the ones in its divs
CHART = '<div class="dashboard-chart"><svg'


@dataclass(frozen=True)
class Call:
    app: str
    day: date
    surface: str     # "faceid" or "single_image_<contract>"
    outcome: str     # "pass", "attack" or "other"
    species: str     # an attack's expected species, "" otherwise
    ms: int
    at: time = time(12, 0)


def _calls() -> list[Call]:
    durations = itertools.count(37, 53)   # distinct, uneven times
    made = []
    plan = {
        # (app, day offset from FIRST, surface): outcomes with species
        ("alpha", 0, "faceid"): ["pass", "pass", "attack:screen", "other", "attack:face_replaced"],
        ("alpha", 0, "single_image_001"): ["pass", "attack:print", "attack:print", "other"],
        ("alpha", 1, "faceid"): ["pass"] * 7 + ["attack:mask"] * 2 + ["other"] * 12,
        ("alpha", 2, "single_image_000"): ["attack:screen", "pass", "pass"],
        ("beta", 0, "single_image_002"): ["pass", "other", "attack:unnamed"],
        ("beta", 1, "faceid"): ["attack:print", "pass", "pass", "attack:planarity"],
        ("beta", 1, "single_image_001"): ["pass"] * 20 + ["attack:screen"],
        ("beta", 2, "faceid"): ["other"],
    }
    for (app, offset, surface), outcomes in plan.items():
        for n, spec in enumerate(outcomes):
            outcome, _, species = spec.partition(":")
            # the first call of each group is made at the day's last second: its UTC day holds
            at = time(23, 59, 59) if n == 0 else time(12, 0)
            made.append(Call(app, FIRST + timedelta(days=offset), surface, outcome, species,
                             next(durations), at))
    return made


CALLS = _calls()


def _probabilities_naming(species: str) -> dict:
    others = {"print": 0.05, "screen": 0.05, "mask": 0.05}
    return {"live": 0.1, **others, species: 0.8}


def _record(apps: dict[str, ApiApp], call: Call, n: int) -> None:
    created = datetime.combine(call.day, call.at, tzinfo=UTC)
    app = apps[call.app]
    if call.surface == FACEID_SURFACE:
        code = {"pass": 1000, "other": 4202}[call.outcome] if call.outcome != "attack" else (
            4112 if call.species == "face_replaced" else 4100)
        passive, attack_result, liveness_type = None, None, "still"
        if code == 4100 and call.species == "planarity":
            # a meglive print: planarity caught it, while the passive decision (which does not
            # decide meglive) called the frame live; its species is the check's name
            liveness_type = "meglive"
            passive = {"score": 0.1, "threshold": 0.5, "passed": True,
                       "probabilities": _probabilities_naming("print") | {"live": 0.9}}
            attack_result = {"result": True, "failed_check": "planarity",
                             "checks": {"planarity": "failed"}}
        elif code == 4100:
            passive = {"score": 0.2, "threshold": 0.5, "passed": False,
                       "probabilities": _probabilities_naming(call.species)}
            attack_result = {"result": True, "failed_check": "passive",
                             "checks": {"passive": "failed"}}
        record = VerificationRecord.objects.create(
            biz_token=f"token-{n}", app=app, request_id=f"r{n}", liveness_type=liveness_type,
            comparison_type="0", result_code=code, result_message=str(code), passive=passive,
            attack_result=attack_result, time_used_ms=call.ms)
        VerificationRecord.objects.filter(pk=record.pk).update(created_at=created)
    else:
        verdict = {"pass": "live", "attack": "attack", "other": "no_face"}[call.outcome]
        species = "" if call.species == "unnamed" else call.species
        row = SingleImageCall.objects.create(
            app=app, contract=call.surface.rsplit("_", 1)[1], request_id=f"r{n}",
            verdict=verdict, attack_species=species, duration_ms=call.ms)
        SingleImageCall.objects.filter(pk=row.pk).update(created_at=created)


@pytest.fixture
def records(db) -> dict[str, ApiApp]:
    apps = {name: ApiApp.objects.create(name=name, api_secret_encrypted="-")
            for name in ("alpha", "beta")}
    for n, call in enumerate(CALLS):
        _record(apps, call, n)
    # Outside the range: a day before it, and the first second after it.
    outside = [Call("alpha", FIRST - timedelta(days=1), "faceid", "pass", "", 9, time(23, 59, 59)),
               Call("beta", LAST + timedelta(days=1), "single_image_001", "pass", "", 9,
                    time(0, 0))]
    for n, call in enumerate(outside, start=len(CALLS)):
        _record(apps, call, n)
    return apps


def _nearest_rank_p95(values: list[int]) -> int:
    """The smallest value that at least 95% of the values do not exceed."""
    return next(v for v in sorted(values) if sum(x <= v for x in values) >= 0.95 * len(values))


def _median(values: list[int]) -> float:
    ordered, middle = sorted(values), len(values) // 2
    return ordered[middle] if len(values) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def _expected(calls: list[Call]) -> dict[tuple[str, date, str], dict]:
    groups: dict[tuple[str, date, str], list[Call]] = {}
    for call in calls:
        groups.setdefault((call.app, call.day, call.surface), []).append(call)
    expected = {}
    for key, members in groups.items():
        species: dict[str, int] = {}
        for call in members:
            if call.outcome == "attack":
                species[call.species] = species.get(call.species, 0) + 1
        passed = sum(c.outcome == "pass" for c in members)
        attacks = sum(c.outcome == "attack" for c in members)
        times = [c.ms for c in members]
        expected[key] = {"calls": len(members), "passed": passed, "attacks": attacks,
                         "pass_rate": passed / len(members), "attack_rate": attacks / len(members),
                         "species": species, "median": _median(times),
                         "p95": _nearest_rank_p95(times)}
    return expected


def _observed(figures) -> dict[tuple[str, date, str], dict]:
    return {(f.app_name, f.day, f.surface): {
        "calls": f.calls, "passed": f.passed, "attacks": f.attacks, "pass_rate": f.pass_rate,
        "attack_rate": f.attack_rate, "species": f.species, "median": f.median_ms,
        "p95": f.p95_ms} for f in figures}


def test_every_figure_equals_what_the_records_say(records):
    figures = dashboard_figures(first=FIRST, last=LAST)
    assert _observed(figures) == _expected(CALLS)
    # the groups this data set was built to exercise, spelled out once
    alpha_faceid = _observed(figures)[("alpha", FIRST + timedelta(days=1), FACEID_SURFACE)]
    assert (alpha_faceid["calls"], alpha_faceid["passed"], alpha_faceid["attacks"]) == (21, 7, 2)
    assert alpha_faceid["species"] == {"mask": 2}
    assert [f.surface for f in figures if f.app_name == "alpha" and f.day == FIRST] == [
        FACEID_SURFACE, single_image_surface("001")]


def test_one_app_and_a_shorter_range(records):
    beta = records["beta"]
    figures = dashboard_figures(first=LAST - timedelta(days=1), last=LAST, app_id=beta.pk)
    wanted = [c for c in CALLS if c.app == "beta" and c.day >= LAST - timedelta(days=1)]
    assert _observed(figures) == _expected(wanted)


def test_no_calls_no_rows(db):
    assert dashboard_figures(first=FIRST, last=LAST) == []


def test_day_range_counts_today():
    assert day_range(14, today=date(2026, 3, 14)) == (date(2026, 3, 1), date(2026, 3, 14))


def test_the_page_shows_the_figures_and_charts(records, staff_client):
    response = staff_client.get(DASHBOARD, {"days": 3})
    assert response.status_code == 200
    page = response.content.decode()
    assert page.count(CHART) == 2   # one chart per app
    rows = page.split('<tbody>')[1].split('</tbody>')[0].split("<tr>")[1:]
    expected = _expected(CALLS)
    assert len(rows) == len(expected)
    for (app, day, surface), e in expected.items():
        cells = [f"<td>{app}</td>", f"<td>{day.isoformat()}</td>", f"<td>{surface}</td>",
                 f"<td>{e['calls']}</td>", f"<td>{e['passed']}</td>",
                 f"<td>{100 * e['pass_rate']:.1f}%</td>", f"<td>{e['attacks']}</td>",
                 f"<td>{100 * e['attack_rate']:.1f}%</td>", f"<td>{e['median']}</td>",
                 f"<td>{e['p95']}</td>"]
        matching = [row for row in rows if all(cell in row for cell in cells[:3])]
        assert len(matching) == 1, (app, day, surface)
        assert all(cell in matching[0] for cell in cells), (matching[0], cells)
        for species, n in e["species"].items():
            assert f"{species}: {n}" in matching[0]


def test_the_page_filters_by_app(records, staff_client):
    page = staff_client.get(DASHBOARD, {"days": 3, "app": records["alpha"].pk}).content.decode()
    table = page.split('<tbody>')[1]
    assert "<td>alpha</td>" in table and "<td>beta</td>" not in table
    assert page.count(CHART) == 1


def test_the_admin_index_links_the_dashboard(staff_client):
    assert DASHBOARD in staff_client.get("/admin/").content.decode()


def test_anyone_but_staff_is_sent_to_login(client, db):
    assert client.get(DASHBOARD).status_code == 302
    user = get_user_model().objects.create_user("clerk", "clerk@example.com", "pw-12345678")
    client.force_login(user)
    response = client.get(DASHBOARD)
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
