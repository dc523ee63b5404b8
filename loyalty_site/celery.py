import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "loyalty_site.settings")

app = Celery("loyalty_site")
# Every Celery setting lives in Django settings under the CELERY_ prefix,
# beat schedule included, so there is one place to read them.
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
