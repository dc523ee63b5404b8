"""E-mail: the canonical form of an address for comparing, and the branded message for sending.

One person, one address: the canonical form is for comparing, never for sending.

``Name+friend@Example.com`` and, at Gmail, ``n.a.m.e@googlemail.com`` reach the
same mailbox as ``name@example.com`` and ``name@gmail.com``. Duplicate checks,
the referral guard and the counter's look-up compare this form; the address
as typed is kept for sending.
"""

from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.utils import timezone, translation

# Providers that ignore dots in the local part.
DOTLESS = {"gmail.com": "gmail.com", "googlemail.com": "gmail.com"}


def masked_email(address: str) -> str:
    """Enough of an address for its owner to recognise, not enough to learn it: m•••@example.com."""
    local, _at, domain = address.partition("@")
    return f"{local[:1]}•••@{domain}"


def canonical_email(address: str) -> str:
    address = (address or "").strip().lower()
    local, at, domain = address.rpartition("@")
    if not at or not local:
        return address
    local = local.split("+", 1)[0]
    if domain in DOTLESS:
        domain = DOTLESS[domain]
        local = local.replace(".", "")
    return f"{local}@{domain}"


def render_branded_text(template: str, context: dict, *, language: str) -> tuple[str, str]:
    """The message's subject and plain text in ``language``, dates in the shop's time zone (for
    channels without HTML: LINE)."""
    shop = context.get("shop")
    with translation.override(language), timezone.override(shop.tz if shop else None):
        subject = render_to_string(f"{template}_subject.txt", context).strip()
        text = render_to_string(f"{template}_body.txt", context)
    return subject, text


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
