"""Tenant apps: the create_api_app command, secrets at rest, and the admin."""

import json
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from apps.faceid.models import BizTokenRecord
from apps.tenants.models import ApiApp
from apps.tenants.services import api_app_authenticate_app_code, api_app_secret

from .conftest import Tenant, still_form


def test_create_api_app_prints_credentials_once_as_json(db, post_form):
    out = StringIO()
    call_command("create_api_app", "--name", "teller", "--quota", "5", stdout=out)
    credentials = json.loads(out.getvalue())
    assert set(credentials) == {"api_key", "api_secret", "app_code"}
    app = ApiApp.objects.get(name="teller")
    assert app.api_key == credentials["api_key"] and app.call_quota == 5
    assert app.can_verify and not app.can_use_data_source

    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM tenants_apiapp WHERE name = 'teller'")
        row = " ".join(str(v) for v in cursor.fetchone())
    assert credentials["api_secret"] not in row  # encrypted at rest
    assert credentials["app_code"] not in row  # only its keyed digest is kept
    assert api_app_secret(app) == credentials["api_secret"]  # and still checkable
    assert api_app_authenticate_app_code(
        authorization=f"APPCODE {credentials['app_code']}") == app

    tenant = Tenant(app=app, api_key=credentials["api_key"], api_secret=credentials["api_secret"],
                    app_code=credentials["app_code"])
    assert post_form(still_form(tenant)).status_code == 200


def test_create_api_app_rejects_duplicates_and_bad_networks(db):
    call_command("create_api_app", "--name", "dup", stdout=StringIO())
    with pytest.raises(CommandError):
        call_command("create_api_app", "--name", "dup", stdout=StringIO())
    with pytest.raises(CommandError, match="allowed_networks"):
        call_command("create_api_app", "--name", "x", "--allowed-networks", "10.0.0.0/33",
                     stdout=StringIO())


def test_admin_creates_an_app_and_shows_its_secret_once(staff_client):
    response = staff_client.post("/admin/tenants/apiapp/add/", {
        "name": "branch-office", "status": "active", "can_verify": "on",
        "allowed_networks": "10.0.0.0/8", "notes": ""}, follow=True)
    assert response.status_code == 200
    app = ApiApp.objects.get(name="branch-office")
    shown = [str(m) for m in response.context["messages"]]
    secret = api_app_secret(app)
    assert any(secret in m for m in shown)
    again = staff_client.get(f"/admin/tenants/apiapp/{app.pk}/change/")
    assert secret not in again.content.decode()


def test_admin_refuses_a_bad_network(staff_client):
    response = staff_client.post("/admin/tenants/apiapp/add/", {
        "name": "bad", "status": "active", "allowed_networks": "not-a-network"})
    assert response.status_code == 200 and not ApiApp.objects.filter(name="bad").exists()
    assert "is not an IP network" in response.content.decode()


def test_admin_rotation_invalidates_the_old_secret(staff_client, acme, post_form):
    old_form = still_form(acme)
    staff_client.post("/admin/tenants/apiapp/", {"action": "rotate_secret",
                                                 "_selected_action": [acme.app.pk]})
    response = post_form(old_form)
    assert response.status_code == 403
    assert response.json()["error"] == "AUTHORIZATION_ERROR: INVALID_SIGN"


def test_admin_lists_live_sessions_and_token_records(staff_client, acme, post_form):
    token = post_form(still_form(acme, uuid="visible-user")).json()["biz_token"]
    live = staff_client.get("/admin/faceid/livesession/")
    assert live.status_code == 200
    page = live.content.decode()
    assert token in page and "visible-user" in page and "image_ref1" in page
    records = staff_client.get("/admin/faceid/biztokenrecord/")
    assert records.status_code == 200 and token in records.content.decode()
    record = BizTokenRecord.objects.get(biz_token=token)
    detail = staff_client.get(f"/admin/faceid/biztokenrecord/{record.pk}/change/")
    assert detail.status_code == 200
    assert staff_client.post(f"/admin/faceid/biztokenrecord/{record.pk}/delete/").status_code == 403


def test_live_sessions_page_needs_permission(client, db, acme, post_form):
    from django.contrib.auth.models import Permission

    token = post_form(still_form(acme)).json()["biz_token"]
    clerk = get_user_model().objects.create_user("clerk", password="pw-12345678", is_staff=True)
    client.force_login(clerk)
    assert client.get("/admin/faceid/livesession/").status_code == 403
    clerk.user_permissions.add(Permission.objects.get(codename="view_livesession"))
    page = client.get("/admin/faceid/livesession/")
    assert page.status_code == 200 and token in page.content.decode()


@pytest.mark.parametrize("database, message", [
    ("sqlite:///{tmp}/never_migrated.sqlite3",
     "the database is not set up (no such table: tenants_apiapp): run `python manage.py migrate`"),
    ("postgres://postgres@127.0.0.1:1/none", "the database cannot be used: "),
])
def test_create_api_app_says_what_is_wrong_with_the_database(tmp_path, database, message):
    import os
    import subprocess
    import sys

    finished = subprocess.run(
        [sys.executable, "manage.py", "create_api_app", "--name", "teller"],
        env={**os.environ, "DATABASE_URL": database.format(tmp=tmp_path)},
        capture_output=True, text=True, timeout=120)
    assert finished.returncode == 1 and finished.stdout == ""
    assert "Traceback" not in finished.stderr
    assert message in finished.stderr
