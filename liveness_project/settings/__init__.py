"""Settings are assembled from one base module and one module per owner: each app's settings in
its own module (tenants, analysis, faceid, single_image), Celery's and logging's, and the upload
limits every surface shares (uploads), each name set in exactly one module.

Every value comes from an environment variable with a default that is safe for the embedded,
single-machine run (SQLite, local Redis, DEBUG off). See docs/CONFIGURATION.md.
"""

from .analysis import *  # noqa: F401,F403
from .base import *  # noqa: F401,F403
from .celery import *  # noqa: F401,F403
from .faceid import *  # noqa: F401,F403
from .logging import *  # noqa: F401,F403
from .single_image import *  # noqa: F401,F403
from .tenants import *  # noqa: F401,F403
from .uploads import *  # noqa: F401,F403
