"""The real settings, with the environment a test run needs.

Production mode (DEBUG off) as in deployment; only what makes tests fast or
observable is changed below.
"""

import os

os.environ.setdefault("SECRET_KEY", "tests-only-not-a-secret-1f9c2b7e4a6d8c0e3b5a7f9d1c3e5a7b9d0f2e4c6")
os.environ.setdefault("ALLOWED_HOSTS", "testserver,localhost,127.0.0.1")
os.environ.setdefault("SECURE_SSL_REDIRECT", "false")

from loyalty_site.settings import *  # noqa: F403

# collectstatic does not run before tests; the manifest storage needs it.
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}  # noqa: F405
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Mail stays in the process, also in a worker a test starts (pytest-django does this for its own
# process only), unless a test points EMAIL_URL at the SMTP server it runs on this machine.
if not EMAIL_URL:  # noqa: F405
    EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
MEDIA_ROOT = VAR_DIR / "test-media"  # noqa: F405
# Tasks run in the test's own process; tests/test_celery_worker.py turns this
# off to prove a real worker process picks tasks up from the broker.
CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = True
# Serve static files straight from the finders: no collectstatic before tests.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
# A variable or filter argument that cannot be resolved fails the test that
# rendered it (production keeps Django's lenient empty string).
from .strict_templates import StrictInvalid  # noqa: E402

TEMPLATES[0]["OPTIONS"]["string_if_invalid"] = StrictInvalid()  # noqa: F405
