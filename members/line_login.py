"""Joining a shop with LINE Login: the customer signs in with LINE (allauth's LINE provider, one
LINE Login channel for the installation), then lands on the shop's join-with-LINE page, which finds
or makes their membership.

The LINE user id LINE Login gives is the one the shop's Messaging API webhook sees, when both
channels belong to the same LINE provider (docs/deploy.md): the follower row of a shop's official
account and the membership made here meet on it.
"""

from dataclasses import dataclass

from allauth.socialaccount.models import SocialAccount
from django.conf import settings
from django.db import transaction

from . import services
from .emails import canonical_email
from .models import LineFollower, Member, Shop, User

PROVIDER = "line"


def enabled() -> bool:
    """Whether this installation offers LINE Login (its channel id and secret are set)."""
    return bool(settings.SOCIALACCOUNT_PROVIDERS.get(PROVIDER, {}).get("APPS"))


@dataclass(frozen=True)
class LineIdentity:
    user_id: str
    name: str
    # The address LINE verified (its id_token's), or empty when LINE gave none.
    email: str


def identity(user: User) -> LineIdentity | None:
    """The LINE account the user signed in with (or connected), as LINE described it at sign-in."""
    account = SocialAccount.objects.filter(user=user, provider=PROVIDER).order_by("-last_login").first()
    if account is None:
        return None
    data = account.extra_data or {}
    # With the e-mail scope allauth keeps the verified id_token's claims (sub, name, email); the
    # profile endpoint's answer (userId, displayName) without it.
    name = str(data.get("name") or data.get("displayName") or "").strip()
    return LineIdentity(user_id=account.uid, name=name, email=str(data.get("email") or "").strip().lower())


def _follower_locked(shop: Shop, line_user_id: str) -> LineFollower:
    """The shop's row for the LINE account, locked: two sign-ins of one LINE account at once make
    one member. A row made here was not told of a follow: it does not claim one."""
    LineFollower.objects.get_or_create(shop=shop, line_user_id=line_user_id, defaults={"following": False})
    # of=self: PostgreSQL locks no row of the nullable side of the member join.
    rows = LineFollower.objects.select_for_update(of=("self",)).select_related("member")
    return rows.get(shop=shop, line_user_id=line_user_id)


def member_for_line(
    *,
    shop: Shop,
    user: User,
    line: LineIdentity,
    language: str,
    referrer: Member | None = None,
    joined_from: str = "",
) -> tuple[Member, bool]:
    """The customer's membership of the shop, found or made, never a second one: the member whose
    account is the signed-in user's, else the one the LINE account is already linked to (by a code
    sent to the shop's official account), else the one with the address LINE verified; else a new
    member. What is missing is linked (the member's account, the LINE follower row); what is there
    is never moved to someone else. Joining with LINE gives no consent to news and offers."""
    with transaction.atomic():
        row = _follower_locked(shop, line.user_id)
        member = shop.members.filter(user=user).order_by("joined_at").first()
        if member is None and row.member is not None and row.member.erased_at is None:
            member = row.member
        if member is None and line.email:
            member = shop.members.filter(email_canonical=canonical_email(line.email)).first()
        created = False
        if member is None:
            # The address goes with the member when it is the account's own: member_join links the
            # member to the account that has it (another person's account is never linked here).
            email = line.email if line.email and line.email == user.email.lower() else ""
            member, created = services.member_join(
                shop=shop,
                name=(line.name or user.get_full_name() or "LINE")[:80],
                email=email,
                phone="",
                birthday=None,
                marketing_consent=False,
                language=language,
                referrer=referrer,
                joined_from=joined_from,
            )
        if member.user_id is None:
            member.user = user
            member.save(update_fields=["user"])
        if row.member is None or row.member.erased_at is not None:
            row.member = member
            row.save(update_fields=["member"])
    return member, created
