"""Settings of the beat and worker processes that tests/test_two_beats.py starts.

The tests' settings, with tasks going through the broker (never run in the process that sends them,
which for beat would be beat itself), and a schedule of the real entries every second or two, so
a test sees each of them sent many times in a few seconds. E-mail never leaves the machine: it is
written to files in ``TEST_EMAIL_DIR`` (counted by the test), or kept in memory.
"""

import os

from .settings import *  # noqa: F403
from .settings import CELERY_BEAT_SCHEDULE as REAL_SCHEDULE

CELERY_TASK_ALWAYS_EAGER = False
CELERY_TASK_EAGER_PROPAGATES = False

EVERY_SECOND = {"birthday-gifts": 1.0, "win-back": 1.0, "flush-outbox": 2.0}
CELERY_BEAT_SCHEDULE = {name: {**REAL_SCHEDULE[name], "schedule": every} for name, every in EVERY_SECOND.items()}

# Whatever EMAIL_URL the environment has: no SMTP server is ever asked.
if os.environ.get("TEST_EMAIL_DIR"):
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = os.environ["TEST_EMAIL_DIR"]
else:
    EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
