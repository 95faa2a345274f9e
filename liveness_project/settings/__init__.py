"""Settings are assembled from one base module and one module per integration.

Every value comes from an environment variable with a default that is safe for the embedded,
single-machine run (SQLite, local Redis, DEBUG off). See docs/CONFIGURATION.md.
"""

from .base import *  # noqa: F401,F403
from .celery import *  # noqa: F401,F403
from .faceid import *  # noqa: F401,F403
from .logging import *  # noqa: F401,F403
from .single_image import *  # noqa: F401,F403
