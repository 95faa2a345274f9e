import os

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from apps.core.embedded import EmbeddedStack


class Command(BaseCommand):
    help = ("Run the whole service on one machine: migrate, then Redis (when none is "
            "configured or answering), a Celery worker and gunicorn, until Ctrl-C.")

    def add_arguments(self, parser):
        parser.add_argument("--bind", default=os.environ.get("BIND", "127.0.0.1:8000"))
        parser.add_argument("--workers", type=int,
                            default=int(os.environ.get("WEB_CONCURRENCY", "2")))
        parser.add_argument("--worker-concurrency", type=int,
                            default=int(os.environ.get("WORKER_CONCURRENCY", "1")))

    def handle(self, *args, **options):
        stack = EmbeddedStack(
            var_dir=settings.VAR_DIR,
            bind=options["bind"],
            workers=options["workers"],
            worker_concurrency=options["worker_concurrency"],
            probe_redis_port=int(os.environ.get("EMBEDDED_REDIS_PROBE_PORT", "6379")),
            own_redis_port=int(os.environ.get("EMBEDDED_REDIS_PORT", "6390")),
            log=lambda line: self.stdout.write(line),
        )
        call_command("migrate", interactive=False, verbosity=0)
        call_command("collectstatic", interactive=False, verbosity=0)
        redis_url = stack.resolve_redis_url()
        try:
            stack.start(stack.child_env(redis_url))
        except BaseException:
            stack.stop()
            raise
        raise SystemExit(stack.wait())
