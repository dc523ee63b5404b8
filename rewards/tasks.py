from celery import shared_task
from django.utils import timezone

from . import services


@shared_task(acks_late=True)
def expire_vouchers() -> int:
    """Hourly: vouchers past their date show as expired everywhere."""
    return services.vouchers_expire()


@shared_task(acks_late=True)
def review_tiers() -> int:
    """Daily: move members down who stayed short of their tier past the grace period."""
    now = timezone.now()
    return services.tiers_review(now=now) + services.trial_reminders(now=now)


@shared_task(acks_late=True)
def expire_points() -> int:
    """Daily: points past their time expire, first earned first, as each shop's rule says."""
    return services.points_expire()
