from celery import shared_task
from django.utils import timezone

from . import data, services


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


@shared_task(acks_late=True)
def prepare_data_downloads() -> int:
    """Customers' copies of their data: prepared as soon as asked (and every 15 minutes for any whose
    task was lost), e-mailed as a link; old ones removed."""
    return data.prepare_due()
