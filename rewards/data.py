"""A customer's copy of their data: their profile and, at every shop they joined, their cards,
history, purchases, vouchers, tier changes, messages and consents, as JSON and CSV in one zip
archive. Prepared by the worker (``prepare_due``), e-mailed as a link that works for
``settings.DATA_DOWNLOAD_DAYS`` days, then deleted. Staff who served them are not named: the copy
is of the customer's data, not of the shop's people."""

import io
import json
import secrets
import zipfile
from datetime import timedelta

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Count
from django.urls import reverse
from django.utils import timezone

from members.emails import send_branded_email
from members.models import DataDownload, Member, Message, User
from members.spreadsheet import csv_text

from .models import (
    ChallengeCompletion,
    Contribution,
    ItemSold,
    LeaderboardSeat,
    LedgerEntry,
    MemberCard,
    Membership,
    PartnerRedemption,
    Purchase,
    TierChange,
    Voucher,
    WalletPass,
)

FOLDER = "data-downloads"
README = """Your data at the loyalty program of the shops you joined.

profile.json          your account: e-mail address, name, when it was made, the shops you joined
<shop>/member.json    everything that shop holds about you, in one file
<shop>/history.csv    every change of your stamps and points (undone ones marked)
<shop>/purchases.csv  purchases recorded, with points earned, spent and refunded
<shop>/vouchers.csv   vouchers issued to you and what became of them
<shop>/messages.csv   e-mails the shop sent you, or tried to
<shop>/tiers.csv      your tier changes
<shop>/memberships.csv  memberships and prepaid bundles bought, and what is left of them

Times are in UTC (ISO 8601). CSV files open in a spreadsheet; a cell that a spreadsheet would read
as a formula starts with an apostrophe.
"""


def _iso(value) -> str:
    return value.isoformat() if value else ""


HEADERS = {
    "history": ["time", "reason", "card", "stamps", "points", "amount", "voucher", "reward", "undone", "note"],
    "purchases": ["time", "amount", "receipt", "points_earned", "points_spent", "discount", "refunded_amount"],
    "vouchers": ["code", "reward", "status", "issued", "expires", "redeemed"],
    "messages": ["created", "kind", "about", "to", "status", "sent"],
    "tiers": ["time", "from", "to", "reason"],
    "memberships": ["plan", "kind", "sold", "price_paid", "paid_by", "prepaid_items", "items_left", "ends", "status"],
    "items": ["time", "item", "tag", "undone"],
    "gifts_to_causes": ["time", "cause", "kind", "amount", "points", "reason"],
    "challenges": ["completed", "challenge", "badge", "window_from", "revoked"],
    "leaderboards": ["joined", "challenge", "nickname"],
    "partner_offers_used": ["time", "offer", "at", "undone"],
    "wallet_passes": ["added", "wallet", "revoked"],
}


def _history(member: Member) -> list[list]:
    ledger = member.ledger.select_related("card__program", "voucher", "reward").order_by("created_at", "id")
    voided = set(LedgerEntry.objects.filter(member=member, voids__isnull=False).values_list("voids_id", flat=True))
    rows = []
    for e in ledger:
        card = e.card.program.name if e.card_id else ""
        voucher = e.voucher.code if e.voucher_id else ""
        reward = e.reward.name if e.reward_id else ""
        rows.append([_iso(e.created_at), e.get_reason_display(), card, e.stamps, e.points, e.money_amount, voucher,
                     reward, e.pk in voided, e.note])  # fmt: skip
    return rows


def _tables(member: Member) -> dict[str, tuple[list[str], list[list]]]:
    purchases = Purchase.objects.filter(member=member).order_by("created_at")
    vouchers = Voucher.objects.filter(member=member).order_by("issued_at")
    sent = Message.objects.filter(member=member).order_by("created_at")
    tiers = TierChange.objects.filter(member=member).select_related("from_tier", "to_tier").order_by("created_at")
    rows = {
        "history": _history(member),
        "purchases": [
            [_iso(p.created_at), p.amount, p.receipt, p.points_earned, p.points_spent, p.discount, p.refunded_amount]
            for p in purchases
        ],
        "vouchers": [
            [v.code, v.title, v.get_status_display(), _iso(v.issued_at), _iso(v.expires_at), _iso(v.redeemed_at)]
            for v in vouchers
        ],
        "messages": [
            [_iso(m.created_at), m.get_kind_display(), m.campaign, m.to_email, m.get_status_display(), _iso(m.sent_at)]
            for m in sent
        ],
        "tiers": [
            [_iso(c.created_at), str(c.from_tier or ""), str(c.to_tier or ""), c.get_reason_display()] for c in tiers
        ],
        "memberships": [
            [m.plan.name, m.get_kind_display(), _iso(m.created_at), m.price_paid, m.get_payment_method_display(),
             m.items_total, m.items_left, _iso(m.ends_at), m.get_status_display()]
            for m in Membership.objects.filter(member=member).select_related("plan").order_by("created_at")
        ],
        "items": [
            [_iso(i.created_at), i.item.name, i.item.tag, bool(i.undone)]
            for i in ItemSold.objects.filter(member=member).select_related("item").annotate(
                undone=Count("entry__voided_by")
            ).order_by("created_at")
        ],
        "gifts_to_causes": [
            [_iso(c.created_at), c.cause.name, c.get_kind_display(), c.amount, c.points, c.reason]
            for c in Contribution.objects.filter(member=member).select_related("cause").order_by("created_at", "id")
        ],
        "challenges": [
            [_iso(c.completed_at), c.challenge.name, c.challenge.badge_name, c.window_start.isoformat(),
             _iso(c.revoked_at)]
            for c in ChallengeCompletion.objects.filter(member=member).select_related("challenge")
            .order_by("completed_at", "id")
        ],
        "leaderboards": [
            [_iso(seat.joined_at), seat.challenge.name, seat.nickname]
            for seat in LeaderboardSeat.objects.filter(member=member).select_related("challenge").order_by("joined_at")
        ],
        "partner_offers_used": [
            [_iso(r.redeemed_at), r.offer.title, r.offer.partner_shop.name, _iso(r.undone_at)]
            for r in PartnerRedemption.objects.filter(member=member).select_related("offer__partner_shop")
            .order_by("redeemed_at", "id")
        ],
        "wallet_passes": [
            [_iso(p.created_at), p.get_kind_display(), _iso(p.revoked_at)]
            for p in WalletPass.objects.filter(member=member).order_by("created_at", "id")
        ],
    }  # fmt: skip
    return {name: (HEADERS[name], rows[name]) for name in HEADERS}


def _member_json(member: Member, tables: dict) -> dict:
    cards = MemberCard.objects.filter(member=member).select_related("program").order_by("program__name")
    return {
        "shop": member.shop.name,
        "member_code": member.code,
        "name": member.name,
        "email": member.email,
        "phone": member.phone,
        "birthday": _iso(member.birthday),
        "note_for_the_counter": member.counter_note,
        "language": member.language,
        "joined": _iso(member.joined_at),
        "last_visit": _iso(member.last_visit_at),
        "points": member.points,
        "tier": str(member.tier or ""),
        "news_and_offers": {
            "agreed": member.marketing_consent,
            "at": _iso(member.consent_at),
            "wording_version": member.consent_version,
            "how": member.get_consent_method_display() if member.consent_method else "",
        },
        "cards": [{"card": card.program.name, "stamps": card.stamps} for card in cards],
        **{name: [dict(zip(header, row, strict=True)) for row in rows] for name, (header, rows) in tables.items()},
    }


def archive(user: User) -> bytes:
    """The zip archive of everything about ``user`` at every shop they joined and still belong to."""
    members = list(Member.objects.filter(user=user).select_related("shop", "tier").order_by("shop__slug", "pk"))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as out:
        out.writestr("README.txt", README)
        profile = {
            "email": user.email,
            "name": user.get_full_name(),
            "account_created": _iso(user.date_joined),
            "shops": [member.shop.name for member in members],
        }
        out.writestr("profile.json", json.dumps(profile, ensure_ascii=False, indent=2))
        for member in members:
            folder = member.shop.slug
            tables = _tables(member)
            data = _member_json(member, tables)
            out.writestr(f"{folder}/member.json", json.dumps(data, ensure_ascii=False, indent=2, default=str))
            for name, (header, rows) in tables.items():
                out.writestr(f"{folder}/{name}.csv", csv_text(header, rows))
    return buffer.getvalue()


def prepare_due(now=None) -> int:
    """Prepare every requested copy not ready yet, one transaction each (a parallel run skips the
    rows this one holds), e-mail each link after its commit, and delete copies past their days.
    Returns the copies prepared."""
    now = now or timezone.now()
    prepared = 0
    for pk in DataDownload.objects.filter(ready_at__isnull=True).values_list("pk", flat=True):
        with transaction.atomic():
            download = (
                DataDownload.objects.select_for_update(skip_locked=True)
                .select_related("user")
                .filter(pk=pk, ready_at__isnull=True)
                .first()
            )
            if download is None:
                continue
            name = default_storage.save(f"{FOLDER}/{secrets.token_hex(16)}.zip", ContentFile(archive(download.user)))
            download.file, download.ready_at = name, now
            download.save(update_fields=["file", "ready_at"])
            transaction.on_commit(lambda download=download: _send_link(download))
        prepared += 1
    purge(now)
    return prepared


def _send_link(download: DataDownload) -> None:
    url = settings.SITE_URL + reverse("members:data_download", args=[download.public_id])
    context = {"url": url, "days": settings.DATA_DOWNLOAD_DAYS}
    send_branded_email("members/email/data_download", context, to=download.user.email, language=download.language)


def purge(now) -> int:
    """Copies older than their days: the file and the row go."""
    old = DataDownload.objects.filter(ready_at__lt=now - timedelta(days=settings.DATA_DOWNLOAD_DAYS))
    for name in old.exclude(file="").values_list("file", flat=True):
        default_storage.delete(name)
    return old.delete()[0]
