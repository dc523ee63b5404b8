from celery import shared_task
from django.conf import settings
from django.urls import reverse

from . import outbox, retention, services, webhooks
from .emails import send_branded_email
from .models import Invitation
from .tokens import invitation_token


@shared_task(acks_late=True)
def send_message(message_id: int) -> bool:
    """Safe to run twice: only the run that claims the row sends it."""
    return outbox.message_send(message_id)


@shared_task(acks_late=True)
def flush_outbox() -> int:
    return outbox.outbox_flush()


@shared_task(acks_late=True)
def send_webhook(delivery_id: int) -> bool:
    """Safe to run twice: only the run that claims the delivery sends it."""
    return webhooks.delivery_send(delivery_id)


@shared_task(acks_late=True)
def flush_webhooks() -> int:
    return webhooks.webhooks_flush()


@shared_task(acks_late=True)
def purge_expired_invitations() -> int:
    """Daily: forget invitations nobody accepted in time. Running it twice is harmless."""
    return services.purge_expired_invitations()


@shared_task(acks_late=True)
def run_retention() -> dict[str, int]:
    """Daily: shops that remove inactive members remind them a month before, then erase them. Running
    it twice, or twice at once, reminds and erases nobody twice."""
    return retention.retention_run()


@shared_task(acks_late=True, autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def send_invitation_email(invitation_id: str) -> bool:
    invitation = Invitation.objects.select_related("shop", "invited_by").filter(id=invitation_id).first()
    if invitation is None:
        # Accepted or revoked before the worker got to it: nothing to send.
        return False
    shop = invitation.shop
    url = settings.SITE_URL + reverse("members:invitation", args=[invitation_token(invitation)])
    context = {"invitation": invitation, "shop": shop, "url": url, "days": settings.INVITATION_MAX_AGE_DAYS}
    # The invitee has no language of their own yet; the shop's is the best guess.
    send_branded_email("members/email/invitation", context, to=invitation.email, language=shop.language)
    return True
