from celery import shared_task

from . import services


@shared_task(acks_late=True)
def expire_vouchers() -> int:
    """Hourly: vouchers past their date show as expired everywhere."""
    return services.vouchers_expire()
