"""What management commands share: the database's usual first-hour failures said in words.

Django prints a CommandError as one line without a traceback; every other exception gets a
traceback that hides the cause from an operator (`no such table: tenants_apiapp` means the
database was never migrated).
"""

from contextlib import contextmanager

from django.core.management.base import CommandError
from django.db import DatabaseError, OperationalError, ProgrammingError

_MIGRATE = "run `python manage.py migrate` first (`make run` migrates on its own)"


@contextmanager
def database_errors_said():
    """Turns a missing table or an unreachable database into a CommandError that says what
    to do; any other database error keeps its own text, still without a traceback."""
    try:
        yield
    except (OperationalError, ProgrammingError) as exc:
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if "no such table" in text or "does not exist" in text:
            raise CommandError(f"the database is not set up ({text}): {_MIGRATE}") from exc
        raise CommandError(f"the database cannot be used: {text} (check DATABASE_URL and "
                           "that the server is running)") from exc
    except DatabaseError as exc:
        raise CommandError(f"the database refused the change: {exc}") from exc
