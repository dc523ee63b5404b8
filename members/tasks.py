from celery import shared_task
from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation

from . import services
from .models import Invitation


def send_branded_email(template: str, context: dict, *, to: str, language: str, headers: dict | None = None) -> None:
    """Render ``template``_subject.txt, _body.txt and _body.html in ``language`` and send them."""
    shop = context.get("shop")
    # Dates in the message are the shop's local dates.
    with translation.override(language), timezone.override(shop.tz if shop else None):
        subject = render_to_string(f"{template}_subject.txt", context).strip()
        text = render_to_string(f"{template}_body.txt", context)
        html = render_to_string(f"{template}_body.html", context)
    message = EmailMultiAlternatives(subject, text, to=[to], headers=headers or {})
    message.attach_alternative(html, "text/html")
    message.send()


@shared_task(acks_late=True)
def purge_expired_invitations() -> int:
    """Daily: forget invitations nobody accepted in time. Running it twice is harmless."""
    return services.purge_expired_invitations()


@shared_task(acks_late=True, autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def send_invitation_email(invitation_id: str) -> bool:
    invitation = Invitation.objects.select_related("shop", "invited_by").filter(id=invitation_id).first()
    if invitation is None:
        # Accepted or revoked before the worker got to it: nothing to send.
        return False
    shop = invitation.shop
    url = settings.SITE_URL + reverse("members:invitation", args=[services.invitation_token(invitation)])
    context = {"invitation": invitation, "shop": shop, "url": url, "days": settings.INVITATION_MAX_AGE_DAYS}
    # The invitee has no language of their own yet; the shop's is the best guess.
    send_branded_email("members/email/invitation", context, to=invitation.email, language=shop.language)
    return True
