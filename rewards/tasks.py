from celery import shared_task
from django.utils import timezone
from django.utils.translation import override

from . import data, export, imports, services
from .api import idempotency
from .google_wallet import object_update
from .models import WalletPass
from .services import partners, wallet_push
from .services.wallet import issuers


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
def run_memberships() -> int:
    """Hourly, so every shop's month starts in its own time zone: scheduled prices that start,
    memberships that end, monthly vouchers, tiers from memberships, reminders."""
    return services.memberships_run()


@shared_task(acks_late=True)
def invite_to_renew(change_id: int) -> int:
    """A plan's new price was scheduled: its members are invited to renew early at today's price."""
    return services.price_change_invite(change_id=change_id)


@shared_task(acks_late=True)
def expire_points() -> int:
    """Daily: points past their time expire, first earned first, as each shop's rule says."""
    return services.points_expire()


@shared_task(acks_late=True)
def prepare_data_downloads() -> int:
    """Customers' copies of their data: prepared as soon as asked (and every 15 minutes for any whose
    task was lost), e-mailed as a link; old ones removed."""
    return data.prepare_due()


@shared_task(acks_late=True)
def run_member_import(pk: int) -> int:
    """A shop's members file, imported batch by batch; redelivered after a lost worker, it goes on
    safely (imported rows change nothing the second time). Returns the rows processed."""
    imp = imports.run(pk)
    return imp.processed if imp else 0


@shared_task(acks_late=True)
def purge_member_imports() -> int:
    """Daily: uploads never imported and rejected-rows files go after the days a data copy is kept."""
    return imports.purge()


@shared_task(acks_late=True)
def purge_api_requests() -> int:
    """Daily: the API's answers kept for Idempotency-Key retries, after their day."""
    return idempotency.purge()


@shared_task(acks_late=True)
def prepare_shop_exports() -> int:
    """Shops' exports of members and the ledger: prepared as soon as asked (and every 15 minutes for
    any whose task was lost); old ones removed."""
    return export.prepare_due()


@shared_task(acks_late=True, autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def partner_offer_news(offer_id: int, event: str) -> int:
    """Tell the other shop's owners that a partner offer was proposed, answered or ended."""
    return partners.offer_news(offer_id, event)


@shared_task(acks_late=True, autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def google_wallet_update(pass_id: int) -> int:
    """A member's balances, tier or vouchers changed: their saved Google pass shows it (a revoked one
    is marked inactive). Returns Google's HTTP status; 0 when there is nothing to update."""
    held = WalletPass.objects.select_related("member__shop", "member__tier").filter(pk=pass_id).first()
    if held is None or held.kind != WalletPass.Kind.GOOGLE or WalletPass.Kind.GOOGLE not in issuers():
        return 0
    member = held.member
    with override(member.language or member.shop.language):
        return object_update(held)


@shared_task(acks_late=True)
def apple_wallet_push(push_id: int) -> bool:
    """A member's pass changed: tell one device holding it, through Apple's push service. Safe to run
    twice (the push is claimed before it is sent); True when APNs took it."""
    return wallet_push.push_send(push_id)


@shared_task(acks_late=True)
def flush_wallet_pushes() -> int:
    """Every minute: Apple Wallet pushes that wait (the broker was down) or are due a retry."""
    return wallet_push.pushes_flush()
