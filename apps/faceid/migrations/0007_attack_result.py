"""The record's `attack` held the passive decision's report, whatever decided the liveness
type; it is now `passive`, and `attack_result` holds what the answer's attack_result says
(apps/faceid/results.py attack_result_of). Records made before this migration get their
attack_result from what they kept: the device report's risk, the result, the liveness
evidence's reason and the passive report. They did not keep which optional checks the session
asked for (face replacement, eyes), so theirs list only the checks their evidence shows."""

from django.db import migrations, models

ATTACK_CHECKS = {"passive", "planarity", "flash", "face_replace", "device"}
ACTION_FAILED_CHECKS = {"FACE_REPLACED": "face_replace", "EYES_CLOSED": "eyes",
                        "PLANAR_ATTACK": "planarity", "ACTION_MISSING": "actions",
                        "ACTION_LATE": "actions"}


def _checks(record) -> dict:
    liveness = record.liveness or {}
    checks = {}
    risk = (liveness.get("device") or {}).get("risk")
    if risk is not None:
        checks["device"] = "failed" if risk.get("risky") else "passed"
        if risk.get("risky"):
            return checks
    passive = record.passive
    if passive is None:                  # no liveness check reached a verdict
        return checks
    eyes_closed = (record.result_message == "FAIL_EYES_CLOSE_DETECTION"
                   or liveness.get("forced_past") == "eyes_closed")
    method = liveness.get("method", "")
    if method == "actions":
        reason = liveness.get("reason", "")
        failed = ACTION_FAILED_CHECKS.get(reason)
        if failed is not None:
            checks[failed] = "failed"
        elif reason == "PASS":
            checks.update(planarity="passed", actions="passed")
    elif method == "flash":
        if liveness.get("reason") == "PASS":
            checks["flash"] = "passed"
            if eyes_closed:
                checks["eyes"] = "failed"
        elif liveness.get("reason") not in (None, "NO_FACE"):
            checks["flash"] = "failed"
    elif eyes_closed:
        checks["eyes"] = "failed"
    else:
        checks["passive"] = "passed" if passive.get("passed") else "failed"
    return checks


def backfill(apps, schema_editor):
    VerificationRecord = apps.get_model("faceid", "VerificationRecord")
    for record in VerificationRecord.objects.filter(attack_result__isnull=True).iterator():
        checks = _checks(record)
        if not checks:
            continue
        failed = next((name for name, outcome in checks.items() if outcome == "failed"), None)
        record.attack_result = {"result": failed in ATTACK_CHECKS, "failed_check": failed,
                                "checks": checks}
        record.save(update_fields=["attack_result"])


class Migration(migrations.Migration):

    dependencies = [
        ('faceid', '0006_console_review'),
    ]

    operations = [
        migrations.RenameField(
            model_name='verificationrecord',
            old_name='attack',
            new_name='passive',
        ),
        migrations.AddField(
            model_name='verificationrecord',
            name='attack_result',
            field=models.JSONField(blank=True, null=True),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
    ]
