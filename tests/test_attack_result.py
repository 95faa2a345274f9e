"""attack_result has one meaning in the answer, the record and the admin (issue 15): which
liveness checks ran and passed, which one failed, and whether that failure is an attack (the
result 4100 or 4112). These tests pin the rule and the migration that gave old records it; the
end-to-end answers of real captures are in test_verify.py."""

import importlib

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from apps.faceid.results import (
    ATTACK_CHECKS,
    REASON_RESULTS,
    RESULT_CODES,
    attack_result_of,
)
from ml.jobs import Check, Reason
from ml.session import ACTION_FAILED_CHECKS, ACTION_REASONS

ATTACK_CODES = {RESULT_CODES["FAIL_LIVING_FACE_ATTACK"], RESULT_CODES["REPLACED_FACE_ATTACK"]}


def test_no_check_reached_means_no_attack_result():
    assert attack_result_of({}) is None


def test_every_check_passed_is_no_attack():
    assert attack_result_of({"planarity": "passed", "actions": "passed"}) == {
        "result": False, "failed_check": None,
        "checks": {"planarity": "passed", "actions": "passed"}}


@pytest.mark.parametrize("verdict", sorted(ACTION_FAILED_CHECKS))
def test_an_action_clip_is_an_attack_exactly_when_its_code_is_one(verdict):
    """For each failing verdict of the action analyser, the failed check's attack flag agrees
    with the result code the same verdict is answered with."""
    failed = ACTION_FAILED_CHECKS[verdict].value
    answer = attack_result_of({"face_replace": "passed", failed: "failed"}
                              if failed != "face_replace" else {failed: "failed"})
    code = RESULT_CODES[REASON_RESULTS[ACTION_REASONS[verdict]]]
    assert answer is not None and answer["failed_check"] == failed
    assert answer["result"] is (code in ATTACK_CODES)


@pytest.mark.parametrize("check, reason", [
    (Check.PASSIVE, Reason.PRESENTATION_ATTACK), (Check.FLASH, Reason.PRESENTATION_ATTACK),
    (Check.EYES, Reason.EYES_CLOSED), (Check.PLANARITY, Reason.PRESENTATION_ATTACK),
    (Check.FACE_REPLACE, Reason.FACE_REPLACED), (Check.ACTIONS, Reason.ACTION_MISSING),
    (Check.ACTIONS, Reason.ACTION_LATE)])
def test_each_check_is_an_attack_check_exactly_when_it_fails_with_an_attack_code(check, reason):
    code = RESULT_CODES[REASON_RESULTS[reason]]
    assert (check.value in ATTACK_CHECKS) is (code in ATTACK_CODES)


def test_checks_come_in_the_order_they_are_judged_however_they_were_stored():
    """PostgreSQL's jsonb keeps an object's keys in its own order (shorter first), so the
    order is restored from CHECK_ORDER, the order in which ml judges them."""
    stored = {"actions": "passed", "planarity": "passed", "face_replace": "passed",
              "eyes": "passed", "device": "passed"}
    assert list(attack_result_of(stored)["checks"]) == [
        "device", "face_replace", "eyes", "planarity", "actions"]
    assert list(attack_result_of({"passive": "failed", "eyes": "passed"})["checks"]) == [
        "eyes", "passive"]
    assert list(attack_result_of({"eyes": "failed", "flash": "passed"})["checks"]) == [
        "flash", "eyes"]


def test_the_first_failed_check_is_named():
    assert attack_result_of({"device": "passed", "eyes": "failed"})["failed_check"] == "eyes"


BACKFILLED = [
    # (liveness_type, result_message, liveness, passive, expected attack_result)
    ("meglive", "FAIL_LIVING_FACE_ATTACK", {"method": "actions", "reason": "PLANAR_ATTACK"},
     {"score": 0.1, "threshold": 0.5, "passed": True},
     {"result": True, "failed_check": "planarity", "checks": {"planarity": "failed"}}),
    ("meglive", "ACTION_ERROR", {"method": "actions", "reason": "ACTION_MISSING"},
     {"score": 0.1, "threshold": 0.5, "passed": True},
     {"result": False, "failed_check": "actions", "checks": {"actions": "failed"}}),
    ("meglive", "SUCCESS", {"method": "actions", "reason": "PASS"},
     {"score": 0.7, "threshold": 0.5, "passed": False},
     {"result": False, "failed_check": None,
      "checks": {"planarity": "passed", "actions": "passed"}}),
    ("flash", "FAIL_LIVING_FACE_ATTACK", {"method": "flash", "reason": "WRONG_COLOURS"},
     {"score": 0.1, "threshold": 0.5, "passed": True},
     {"result": True, "failed_check": "flash", "checks": {"flash": "failed"}}),
    ("still", "FAIL_LIVING_FACE_ATTACK", {"method": "passive PAD on the best frame"},
     {"score": 0.8, "threshold": 0.5, "passed": False},
     {"result": True, "failed_check": "passive", "checks": {"passive": "failed"}}),
    ("still", "FAIL_EYES_CLOSE_DETECTION", {"method": "passive PAD on the best frame"},
     {"score": 0.2, "threshold": 0.5, "passed": True},
     {"result": False, "failed_check": "eyes", "checks": {"eyes": "failed"}}),
    ("still", "FAIL_LIVING_FACE_ATTACK",
     {"device": {"risk": {"risky": True, "reasons": ["emulator"]}}}, None,
     {"result": True, "failed_check": "device", "checks": {"device": "failed"}}),
    ("still", "UNDETECTED_FACE", {}, None, None),
]


@pytest.mark.django_db(transaction=True)
def test_the_migration_gives_old_records_the_attack_result_their_evidence_shows():
    """Records written before 0007 kept the passive report as `attack`, whatever decided; the
    migration renames it `passive` and derives attack_result from what each record kept."""
    executor = MigrationExecutor(connection)
    before, after = [("faceid", "0006_console_review")], [("faceid", "0007_attack_result")]
    executor.migrate(before)
    try:
        old = executor.loader.project_state(before).apps
        app = old.get_model("tenants", "ApiApp").objects.create(name="migrated",
                                                                api_secret_encrypted="-")
        record_model = old.get_model("faceid", "VerificationRecord")
        for n, (kind, message, liveness, passive, _) in enumerate(BACKFILLED):
            record_model.objects.create(
                biz_token=f"old-{n}", app=app, request_id=f"r{n}", liveness_type=kind,
                comparison_type="0", result_code=RESULT_CODES[message], result_message=message,
                attack=passive, liveness=liveness)
        executor = MigrationExecutor(connection)
        executor.migrate(after)
        new = executor.loader.project_state(after).apps.get_model("faceid", "VerificationRecord")
        for n, (_, _, _, passive, expected) in enumerate(BACKFILLED):
            record = new.objects.get(biz_token=f"old-{n}")
            assert (record.passive, record.attack_result) == (passive, expected), n
    finally:
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(executor.loader.graph.leaf_nodes())


def test_the_migration_and_the_live_rule_agree_on_which_checks_are_attacks():
    migration = importlib.import_module("apps.faceid.migrations.0007_attack_result")
    assert set(migration.ATTACK_CHECKS) == set(ATTACK_CHECKS)
    assert {k: v for k, v in migration.ACTION_FAILED_CHECKS.items()} == {
        k: v.value for k, v in ACTION_FAILED_CHECKS.items()}
