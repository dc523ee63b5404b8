from django.db import models
from django.utils import timezone


class Heartbeat(models.Model):
    """When a periodic job last ran, for the operators' status page: ``beat`` is written by the outbox's
    flush, which beat asks a worker for every minute, so its age is how long ago beat and a worker
    last worked together."""

    name = models.CharField(max_length=40, unique=True)
    at = models.DateTimeField(default=timezone.now)

    def __str__(self):
        return f"{self.name} {self.at:%Y-%m-%d %H:%M:%S}"
