"""Functions that change shops, staff and invitations.

Views call these and nothing else writes. Each runs in one transaction and
raises ``LoyaltyError`` with a code that the view turns into a message. Apps
above hear of a new shop or a new member through ``members.signals``.
"""

from datetime import timedelta

from allauth.account.models import EmailAddress
from django.conf import settings
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from . import signals, webhooks
from .emails import canonical_email
from .errors import Code, LoyaltyError
from .models import (
    AuditEntry,
    ConsentMethod,
    DataDownload,
    Invitation,
    LineFollower,
    LineLinkCode,
    Member,
    Message,
    Shop,
    StaffMember,
    User,
)
from .outbox import enqueue, message_queue
from .roles import Role
from .tokens import card_token

# Bump when the wording of the marketing consent box changes.
CONSENT_VERSION = "2026-11"


def shop_create(*, owner: User, **fields) -> Shop:
    with transaction.atomic():
        shop = Shop.objects.create(**fields)
        StaffMember.objects.create(shop=shop, user=owner, role=Role.OWNER)
        # Rewards gives a new shop a card it can stamp at once.
        signals.shop_created.send(sender=Shop, shop=shop)
    return shop


def shop_update(*, shop: Shop, fields: dict, by: User | None = None) -> Shop:
    """Change a shop's settings; a change of how long inactive members are kept, or of whether
    two-factor sign-in is required, goes in the audit trail, with ``by``, the owner who made it."""
    with transaction.atomic():
        # From the row, not the instance: a bound ModelForm has already put the
        # new values on the instance.
        old_logo, old_retention, old_mfa = (
            Shop.objects.select_for_update()
            .filter(pk=shop.pk)
            .values_list("logo", "retention_months", "require_mfa")
            .get()
        )
        for name, value in fields.items():
            setattr(shop, name, value)
        shop.save(update_fields=list(fields))
        if "retention_months" in fields and fields["retention_months"] != old_retention:
            AuditEntry.objects.create(
                shop=shop, actor=by, action=AuditEntry.Action.RETENTION_SET,
                note=f"{old_retention or 0} -> {fields['retention_months'] or 0}",  # AuditEntry.note_text
            )  # fmt: skip
            if not fields["retention_months"]:
                # Switched off, the dates members were told no longer hold: if it is switched on again,
                # they are told again, with a new date and a full notice.
                shop.members.filter(retention_warned_at__isnull=False).update(retention_warned_at=None)
        if "require_mfa" in fields and fields["require_mfa"] != old_mfa:
            action = AuditEntry.Action.MFA_REQUIRED if fields["require_mfa"] else AuditEntry.Action.MFA_NOT_REQUIRED
            AuditEntry.objects.create(shop=shop, actor=by, action=action)
        if old_logo and old_logo != shop.logo.name:
            # The file goes only once the row no longer points at it.
            storage = shop.logo.storage
            transaction.on_commit(lambda: storage.delete(old_logo))
    return shop


def shop_delete(*, shop: Shop) -> None:
    logo = shop.logo.name if shop.logo else ""
    storage = shop.logo.storage
    with transaction.atomic():
        # The shop's exports name its members: their files go with the shop.
        exports = list(shop.exports.exclude(file="").values_list("file", flat=True))
        shop.delete()
    for name in exports:
        default_storage.delete(name)
    if logo:
        storage.delete(logo)


def staff_invite(*, shop: Shop, invited_by: User, email: str, role: str) -> Invitation:
    email = email.strip().lower()
    with transaction.atomic():
        if StaffMember.objects.for_shop(shop).filter(user__email__iexact=email).exists():
            raise LoyaltyError(_("%(email)s already works at this shop.") % {"email": email}, code=Code.ALREADY_STAFF)
        now = timezone.now()
        invitation, _created = Invitation.objects.update_or_create(
            shop=shop,
            email__iexact=email,
            defaults={
                "role": role,
                "invited_by": invited_by,
                "created_at": now,
                "expires_at": now + timedelta(days=settings.INVITATION_MAX_AGE_DAYS),
            },
            create_defaults={
                "email": email,
                "role": role,
                "invited_by": invited_by,
                "created_at": now,
                "expires_at": now + timedelta(days=settings.INVITATION_MAX_AGE_DAYS),
            },
        )
        # The e-mail leaves only once the invitation is really stored. If the broker is
        # down the invitation still stands; the owner can send it again from the staff page.
        enqueue("members.tasks.send_invitation_email", str(invitation.id))
    return invitation


def invitation_revoke(*, shop: Shop, invitation_id) -> None:
    with transaction.atomic():
        Invitation.objects.for_shop(shop).filter(id=invitation_id).delete()


def invitation_accept(*, invitation: Invitation, user: User) -> StaffMember:
    """Give ``user`` the invited role. A user already at the shop keeps the role they have."""
    with transaction.atomic():
        locked = Invitation.objects.select_for_update().filter(id=invitation.id, expires_at__gt=timezone.now()).first()
        if locked is None:
            raise LoyaltyError(_("This invitation is no longer valid."), code=Code.INVALID_INVITATION)
        if not locked.is_for(user):
            raise LoyaltyError(
                _("This invitation was sent to %(email)s. Sign in with that address, or ask the shop to confirm yours.")
                % {"email": locked.email},
                code=Code.OTHER_ADDRESS,
            )
        staff, _created = StaffMember.objects.get_or_create(
            shop_id=locked.shop_id, user=user, defaults={"role": locked.role}
        )
        locked.delete()
    return staff


def invitation_request(*, invitation: Invitation, user: User) -> None:
    """A signed-in account under another address asks to accept; the owners see it on the staff page."""
    with transaction.atomic():
        Invitation.objects.select_for_update().filter(id=invitation.id).update(
            requested_by=user, requester_confirmed=False
        )


def invitation_confirm(*, shop: Shop, invitation_id) -> Invitation:
    """An owner confirms that the account which asked may accept the invitation."""
    with transaction.atomic():
        invitation = Invitation.objects.for_shop(shop).select_for_update().filter(id=invitation_id).first()
        if invitation is None or invitation.requested_by_id is None:
            raise LoyaltyError(_("Nobody has asked to accept this invitation."), code=Code.NOTHING_TO_CONFIRM)
        invitation.requester_confirmed = True
        invitation.save(update_fields=["requester_confirmed"])
    return invitation


def _lock_shop(shop: Shop) -> None:
    # Staff changes of one shop take turns, so two owners demoting each other
    # at the same moment cannot leave the shop without an owner.
    Shop.objects.select_for_update().filter(pk=shop.pk).first()


def _is_last_owner(shop: Shop, staff: StaffMember) -> bool:
    if staff.role != Role.OWNER:
        return False
    return not StaffMember.objects.for_shop(shop).filter(role=Role.OWNER).exclude(pk=staff.pk).exists()


def staff_change_role(*, shop: Shop, staff_id, role: str) -> StaffMember:
    with transaction.atomic():
        _lock_shop(shop)
        staff = StaffMember.objects.for_shop(shop).select_related("user").get(public_id=staff_id)
        if role != Role.OWNER and _is_last_owner(shop, staff):
            raise LoyaltyError(
                _("A shop needs at least one owner. Make someone else an owner first."), code=Code.LAST_OWNER
            )
        staff.role = role
        staff.save(update_fields=["role"])
    return staff


def staff_remove(*, shop: Shop, staff_id) -> None:
    with transaction.atomic():
        _lock_shop(shop)
        staff = StaffMember.objects.for_shop(shop).get(public_id=staff_id)
        if _is_last_owner(shop, staff):
            raise LoyaltyError(
                _("A shop needs at least one owner. Make someone else an owner first."), code=Code.LAST_OWNER
            )
        staff.delete()


def purge_expired_invitations() -> int:
    with transaction.atomic():
        deleted, _by_model = Invitation.objects.filter(expires_at__lte=timezone.now()).delete()
    return deleted


def _existing_member(shop: Shop, email: str, phone: str) -> Member | None:
    match = Q()
    if email:
        match |= Q(email_canonical=canonical_email(email))
    if phone:
        match |= Q(phone=phone)
    return shop.members.filter(match).first() if match else None


def _consent_method(consent: bool, enrolled_by) -> str:
    if not consent:
        return ""
    return ConsentMethod.ALOUD if enrolled_by is not None else ConsentMethod.FORM


def member_join(
    *,
    shop: Shop,
    name: str,
    email: str,
    phone: str,
    birthday,
    marketing_consent: bool,
    language: str,
    referrer: Member | None = None,
    enrolled_by: User | None = None,
    joined_from: str = "",
) -> tuple[Member, bool]:
    """Enrol a customer; joining twice returns the member who already exists, never a second one.

    Running welcome campaigns give their bonus in the same transaction; a
    referral is remembered and rewarded at the friend's first visit. ``enrolled_by``: the staff
    member who enrolled the customer at the counter, where consent is asked aloud."""
    email = email.strip().lower()
    if existing := _existing_member(shop, email, phone):
        return existing, False
    now = timezone.now()
    try:
        with transaction.atomic():
            member = Member.objects.create(
                shop=shop,
                name=name.strip(),
                email=email,
                phone=phone,
                birthday=birthday,
                language=language,
                marketing_consent=marketing_consent,
                consent_version=CONSENT_VERSION if marketing_consent else "",
                consent_at=now if marketing_consent else None,
                consent_method=_consent_method(marketing_consent, enrolled_by),
                enrolled_by=enrolled_by,
                joined_from=joined_from,
                joined_at=now,
                referred_by=referrer if referrer is not None and referrer.shop_id == shop.pk else None,
            )
            signals.member_joined.send(sender=Member, member=member, now=now)
            webhooks.member_joined(member, now)
            if email:
                user = User.objects.filter(email__iexact=email).first()
                if user is None:
                    # A customer account with no password: they come back with an
                    # e-mailed code, which also verifies the address.
                    user = User.objects.create_user(email=email, password=None, first_name=name.strip()[:150])
                    EmailAddress.objects.create(user=user, email=email, primary=True, verified=False)
                member.user = user
                member.save(update_fields=["user"])
                # Through the outbox: sent after the commit, and still sent if the broker is down now.
                card_link_send(member=member, occasion="join")
    except IntegrityError:
        # A twin join won the race for the same e-mail or phone.
        if existing := _existing_member(shop, email, phone):
            return existing, False
        raise
    return member, True


def card_link_send(*, member: Member, occasion: str) -> bool:
    """E-mail the member the link to their card, once per occasion (joining; asking again, at most
    once a day, so a form cannot be used to flood someone's mailbox). False when nothing was queued."""
    with transaction.atomic():
        return (
            message_queue(
                member=member,
                campaign="card_link",
                occasion=occasion,
                template="members/email/card_link",
                kind=Message.Kind.TRANSACTIONAL,
                context={"url": settings.SITE_URL + reverse("rewards:card", args=[card_token(member)])},
            )
            is not None
        )


def card_link_again(*, member: Member) -> bool:
    """A member asks for their card link again (joining twice, or "lost the link"): at most once a
    day, counted in the shop's calendar, whichever way they asked."""
    today = timezone.localdate(timezone=member.shop.tz).isoformat()
    return card_link_send(member=member, occasion=f"again-{today}")


def member_unsubscribe(*, member: Member) -> None:
    """No more news and offers; service messages (a card link, a trial ending) still go."""
    with transaction.atomic():
        Member.objects.filter(pk=member.pk).update(marketing_consent=False, consent_at=timezone.now())


# What an erased member's unsent messages say in the shop's list of messages.
ERASED = "Not sent: the member's personal data was erased."


def member_erase(
    *, member: Member, by: User | None, note: str = "", action: str = AuditEntry.Action.MEMBER_ERASED
) -> bool:
    """Erase a member's personal data, at their request: name, e-mail, phone, birthday, consent,
    the link to their account and their messages' addresses. The row stays, naming nobody, so the
    ledger's rows keep pointing somewhere and the shop's balances, reports and ``ledger_verify``
    stay right; rewards closes the balances (ledger rows of their own) and voids the vouchers. An
    entry in the shop's audit trail records who did it (``by`` is None when the member left by
    themselves, ``action`` MEMBER_LEFT: the trail never names them). Erasing twice is erasing
    once: False."""
    with transaction.atomic():
        locked = Member.all_objects.select_for_update().select_related("shop").get(pk=member.pk)
        if locked.erased_at is not None:
            return False
        now = timezone.now()
        signals.member_erasing.send(sender=Member, member=locked, now=now, by=by, action=action)
        messages = Message.objects.filter(member=locked)
        messages.filter(status__in=[Message.Status.PENDING, Message.Status.FAILED]).update(
            status=Message.Status.FAILED, last_error=ERASED
        )
        messages.update(to_email="", to_line="", context={})
        # No LINE account reaches an erased member any more.
        LineFollower.objects.filter(member=locked).update(member=None)
        LineLinkCode.objects.filter(member=locked).delete()
        webhooks.member_erased(locked, now)
        Member.all_objects.filter(pk=locked.pk).update(
            name="", email="", email_canonical="", phone="", birthday=None, marketing_consent=False, counter_note="",
            consent_version="", consent_at=None, consent_method="", user=None, joined_from="", erased_at=now,
        )  # fmt: skip
        AuditEntry.objects.create(
            shop=locked.shop, actor=by, action=action, subject=locked.code,
            note=note.strip()[:200], created_at=now,
        )  # fmt: skip
    member.erased_at = now
    return True


# A customer's own account: every shop they joined with its address (``Member.user``).


def customer_update(*, user: User, name: str, language: str) -> None:
    """The name and language a customer goes by, at every shop they joined."""
    with transaction.atomic():
        User.objects.filter(pk=user.pk).update(first_name=name[:150])
        Member.objects.filter(user=user).update(name=name, language=language)


def birthday_set_once(*, user: User, birthday) -> int:
    """A birthday given once, for the shops that do not know it yet: it drives a gift, so changing
    it afterwards is for the shop to do. Returns the memberships that took it."""
    with transaction.atomic():
        return Member.objects.filter(user=user, birthday__isnull=True).update(birthday=birthday)


def consent_set(*, member: Member, agreed: bool) -> None:
    """News and offers from one shop, yes or no, recorded with the time and the wording's version."""
    if not agreed:
        member_unsubscribe(member=member)
        return
    with transaction.atomic():
        Member.objects.filter(pk=member.pk).update(
            marketing_consent=True, consent_version=CONSENT_VERSION, consent_at=timezone.now(),
            consent_method=ConsentMethod.ACCOUNT,
        )  # fmt: skip


def account_delete(*, user: User) -> int:
    """A customer leaves every shop and their account goes. An account that works at a shop is
    refused: its shops need it (staff leave a shop's staff first). Returns the shops left."""
    if StaffMember.objects.filter(user=user).exists():
        raise LoyaltyError(
            _("This account works at a shop. Ask its owner to remove you from the staff first."),
            code=Code.STAFF_ACCOUNT,
        )
    with transaction.atomic():
        members = list(Member.objects.filter(user=user))
        for member in members:
            member_erase(member=member, by=None, action=AuditEntry.Action.MEMBER_LEFT)
        files = [name for name in user.data_downloads.values_list("file", flat=True) if name]
        user.delete()
        # Copies of their data go with the account, once the deletion is sure.
        transaction.on_commit(lambda: [default_storage.delete(name) for name in files])
    return len(members)


# A customer may ask for a copy of their data this many times a day.
DATA_DOWNLOADS_PER_DAY = 3
PREPARE_TASK = "rewards.tasks.prepare_data_downloads"


def data_download_request(*, user: User, language: str) -> DataDownload:
    """Ask the worker for a copy of the customer's data. A request still being prepared is answered
    with itself, and a few a day are enough; the beat prepares any whose task was lost."""
    with transaction.atomic():
        User.objects.select_for_update().filter(pk=user.pk).first()
        pending = user.data_downloads.filter(ready_at__isnull=True).first()
        if pending is not None:
            return pending
        today = user.data_downloads.filter(requested_at__gte=timezone.now() - timedelta(days=1)).count()
        if today >= DATA_DOWNLOADS_PER_DAY:
            raise LoyaltyError(
                _("You asked for a copy of your data several times today. Please try again tomorrow."),
                code=Code.TOO_MANY,
            )
        download = DataDownload.objects.create(user=user, language=language)
        enqueue(PREPARE_TASK)
    return download
