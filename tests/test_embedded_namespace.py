"""Two embedded runs on one Redis keep apart (apps/core/embedded.py deployment_namespace)."""

from pathlib import Path

from apps.core.embedded import EmbeddedStack


def stack(var_dir: Path, lines: list[str] | None = None) -> EmbeddedStack:
    return EmbeddedStack(var_dir=var_dir, bind="127.0.0.1:0", workers=1, worker_concurrency=1,
                         log=(lines.append if lines is not None else print))


def test_two_deployments_get_their_own_prefix_and_queue(tmp_path, monkeypatch):
    monkeypatch.delenv("REDIS_KEY_PREFIX", raising=False)
    monkeypatch.delenv("CELERY_QUEUE", raising=False)
    first, second = stack(tmp_path / "a" / "var"), stack(tmp_path / "b" / "var")
    one, other = first.deployment_namespace(), second.deployment_namespace()
    assert one["REDIS_KEY_PREFIX"] != other["REDIS_KEY_PREFIX"]
    assert one["CELERY_QUEUE"] != other["CELERY_QUEUE"]
    assert one["REDIS_KEY_PREFIX"] != "lv:" and one["CELERY_QUEUE"] != "liveness"
    # a restart of the same deployment finds its sessions and queue again
    assert stack(tmp_path / "a" / "var").deployment_namespace() == one


def test_the_children_get_the_namespace_and_the_log_says_it(tmp_path, monkeypatch):
    monkeypatch.delenv("REDIS_KEY_PREFIX", raising=False)
    monkeypatch.delenv("CELERY_QUEUE", raising=False)
    lines: list[str] = []
    embedded = stack(tmp_path / "var", lines)
    env = embedded.child_env("redis://127.0.0.1:6379/0")
    namespace = embedded.deployment_namespace()
    assert env["REDIS_KEY_PREFIX"] == namespace["REDIS_KEY_PREFIX"]
    assert env["CELERY_QUEUE"] == namespace["CELERY_QUEUE"]
    assert any(namespace["CELERY_QUEUE"] in line for line in lines)


def test_names_set_by_the_operator_are_kept(tmp_path, monkeypatch):
    monkeypatch.setenv("REDIS_KEY_PREFIX", "bank-a:")
    monkeypatch.setenv("CELERY_QUEUE", "bank-a")
    assert stack(tmp_path / "var").deployment_namespace() == {
        "REDIS_KEY_PREFIX": "bank-a:", "CELERY_QUEUE": "bank-a"}
