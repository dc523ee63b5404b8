import re
import secrets
import uuid
import zoneinfo
from functools import cache

from django.conf import settings
from django.contrib.auth.models import AbstractUser, BaseUserManager
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from .currency import Currency
from .emails import canonical_email
from .roles import Role

# Codes people read aloud or type: no 0/O, 1/I/L, and no vowels so no words.
CODE_ALPHABET = "23456789BCDFGHJKMNPQRSTVWXYZ"


def random_code(length: int = 8) -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(length))


@cache
def time_zone_choices() -> list[tuple[str, str]]:
    return [(name, name.replace("_", " ")) for name in sorted(zoneinfo.available_timezones())]


class UserManager(BaseUserManager):
    use_in_migrations = True

    def _create_user(self, email, password, **extra_fields):
        if not email:
            raise ValueError("An e-mail address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **extra_fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email, password=None, **extra_fields):
        extra_fields.setdefault("is_staff", False)
        extra_fields.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra_fields)

    def create_superuser(self, email, password=None, **extra_fields):
        extra_fields.setdefault("is_staff", True)
        extra_fields.setdefault("is_superuser", True)
        return self._create_user(email, password, **extra_fields)


class User(AbstractUser):
    """A person who signs in: an owner, a member of staff, or a customer."""

    username = None
    email = models.EmailField(_("email address"), unique=True)

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    objects = UserManager()

    def __str__(self):
        return self.get_full_name() or self.email


class ShopScopedQuerySet(models.QuerySet):
    def for_shop(self, shop: "Shop"):
        return self.filter(shop=shop)


class PresentMembers(models.Manager.from_queryset(ShopScopedQuerySet)):
    """Members who have not been erased: every list, look-up, audience and count. An erased
    member's row stays (their ledger rows point to it, so balances and reports stay right) but
    names nobody; ``Member.all_objects`` and the rows' own ``.member`` still reach it."""

    def get_queryset(self):
        return super().get_queryset().filter(erased_at__isnull=True)


hex_colour = RegexValidator(r"^#[0-9a-fA-F]{6}$", _("Enter a colour such as #6F4E37."))


class Shop(models.Model):
    """The tenant: everything a shop owns points here."""

    class Language(models.TextChoices):
        EN = "en", _("English")
        ZH_HANT = "zh-hant", _("Traditional Chinese")
        ZH_HANS = "zh-hans", _("Simplified Chinese")

    name = models.CharField(_("shop name"), max_length=80)
    slug = models.SlugField(
        _("web address"),
        max_length=40,
        unique=True,
        help_text=_("Lower-case letters, numbers and hyphens; used in your shop's links."),
    )
    logo = models.ImageField(_("logo"), upload_to="logos/", blank=True)
    brand_colour = models.CharField(_("brand colour"), max_length=7, default="#6F4E37", validators=[hex_colour])
    currency = models.CharField(_("currency"), max_length=3, choices=Currency.choices, default=Currency.TWD)
    time_zone = models.CharField(_("time zone"), max_length=64, default="Asia/Taipei")
    language = models.CharField(
        _("default language"),
        max_length=10,
        choices=Language.choices,
        default=Language.ZH_HANT,
        help_text=_("The language customers see first on your shop's public pages."),
    )
    poster_second_language = models.CharField(
        _("second language on the poster"),
        max_length=10,
        blank=True,
        choices=[("", _("No second language")), *Language.choices],
        help_text=_("Printed smaller, under the shop's own language. Shops in Taiwan often print Chinese and English."),
    )

    class JoinFirst(models.TextChoices):
        EMAIL = "email", _("E-mail address")
        PHONE = "phone", _("Mobile phone number")

    join_asks_first = models.CharField(
        _("join page asks first for"),
        max_length=5,
        choices=JoinFirst.choices,
        default=JoinFirst.EMAIL,
        help_text=_("Customers give either; the one asked first is the one most of them will give."),
    )
    retention_months = models.PositiveSmallIntegerField(
        _("remove members inactive for (months)"),
        null=True,
        blank=True,
        validators=[MinValueValidator(6), MaxValueValidator(120)],
        help_text=_(
            "Empty: members are kept until they leave. Otherwise a member with no visit for this long is told a "
            "month before, then their personal data is erased as if they had asked."
        ),
    )
    # Checked on every shop page by members.tenancy.shop_view, for the roles that see members' data.
    require_mfa = models.BooleanField(
        _("require two-factor sign-in for owners and managers"),
        default=False,
        help_text=_(
            "Owners and managers see your members' personal data: with this on, each of them sets up a second "
            "step for signing in (an authenticator app or a security key) before they can open the shop's pages. "
            "Staff at the counter are not asked."
        ),
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # Changes whenever the shop's cards, points rule, tiers, catalogue or campaigns do: see config.py.
    config_key = models.UUIDField(default=uuid.uuid4, editable=False)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    @property
    def tz(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.time_zone)

    @property
    def brand_text_colour(self) -> str:
        """Black or white, whichever reads better on the brand colour (WCAG luminance)."""
        channels = [int(self.brand_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
        linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        luminance = 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]
        return "#000000" if luminance > 0.179 else "#ffffff"


class StaffMember(models.Model):
    """A user's role at a shop (owner, manager or staff)."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="staff")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="staff_roles")
    role = models.CharField(_("role"), max_length=10, choices=Role.choices, default=Role.STAFF)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ShopScopedQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["shop", "user"], name="one_role_per_user_and_shop")]
        ordering = ["created_at"]

    def __str__(self):
        return f"{self.user} ({self.get_role_display()}) at {self.shop}"


class SetupStep(models.Model):
    """A step of a new shop's first day that is done (members.onboarding): kept once, asked no more."""

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="setup_steps")
    step = models.CharField(max_length=20)
    done_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["shop", "step"], name="setup_step_once_per_shop")]

    def __str__(self):
        return f"{self.shop_id}: {self.step}"


class Invitation(models.Model):
    """An e-mailed, signed and expiring offer to join a shop's staff."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField(_("email address"))
    role = models.CharField(_("role"), max_length=10, choices=Role.choices, default=Role.STAFF)
    invited_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    # Someone signed in under another address asked to accept; an owner must confirm that account.
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    requester_confirmed = models.BooleanField(default=False)

    objects = ShopScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            # Inviting the same address again refreshes the invitation instead
            # of leaving two links that both work.
            models.UniqueConstraint("shop", Lower("email"), name="one_invitation_per_email_and_shop"),
        ]

    def __str__(self):
        return f"{self.email} to {self.shop}"

    def is_for(self, user) -> bool:
        """Only the invited address may accept, or another account an owner confirmed."""
        if canonical_email(user.email) == canonical_email(self.email):
            return True
        return self.requester_confirmed and self.requested_by_id == user.pk

    @property
    def is_expired(self) -> bool:
        return self.expires_at <= timezone.now()


class ConsentMethod(models.TextChoices):
    """How a member said yes to news and offers: proof of consent says how it was asked."""

    FORM = "form", _("Ticked the box on the join form")
    ALOUD = "aloud", _("Said yes when staff asked at the counter")
    ACCOUNT = "account", _("Ticked the box in their own account")
    IMPORT = "import", _("Agreed before, as the shop's imported list says")


class Member(models.Model):
    """A customer enrolled in one shop's loyalty program."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="members")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="memberships"
    )
    code = models.CharField(_("member code"), max_length=12, default=random_code, editable=False)
    name = models.CharField(pgettext_lazy("a person's", "name"), max_length=80)
    email = models.EmailField(_("email address"), blank=True)
    # The address compared for duplicates, referrals and look-ups (members.emails); set on save.
    email_canonical = models.CharField(max_length=254, blank=True, editable=False)
    phone = models.CharField(_("phone"), max_length=20, blank=True)
    birthday = models.DateField(_("birthday"), null=True, blank=True)
    language = models.CharField(_("language"), max_length=10, choices=Shop.Language.choices, default="en")
    marketing_consent = models.BooleanField(_("agreed to news and offers"), default=False)
    # Which wording the member agreed to, and when: consent is proven, not assumed.
    consent_version = models.CharField(max_length=20, blank=True)
    consent_at = models.DateTimeField(null=True, blank=True)
    consent_method = models.CharField(
        _("how consent was given"), max_length=10, choices=ConsentMethod.choices, blank=True, editable=False
    )
    # Staff who enrolled the customer at the counter; empty when they joined by themselves.
    enrolled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", editable=False
    )
    # A cache of the ledger's points, moved with F() by rewards.services only.
    # It may go below zero when a refund takes back points already spent.
    points = models.IntegerField(_("points"), default=0)
    # The member's tier, kept by rewards.services.tiers; the date they first fell short of it starts the grace.
    tier = models.ForeignKey("rewards.Tier", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    tier_short_since = models.DateField(null=True, blank=True)
    # Who shared the link this member joined through; set once, at joining.
    referred_by = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="referrals", editable=False
    )
    joined_at = models.DateTimeField(_("joined"), default=timezone.now)
    # A keyed hash of the network address the join page was sent from (never the address itself):
    # many members joining from one address in a short time is a flag on the owner's insights.
    joined_from = models.CharField(max_length=16, blank=True, editable=False)
    last_visit_at = models.DateTimeField(_("last visit"), null=True, blank=True)
    # What staff keep in mind for the member ("oat milk, no sugar"), shown at the counter. Personal
    # data: erased with the member, and in their copy of their data.
    counter_note = models.CharField(_("note for the counter"), max_length=100, blank=True)
    # When the member's personal data was erased (they asked to leave): the row is kept for the
    # ledger's sake, emptied of everything that names a person (members.services.member_erase).
    erased_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Retention (Shop.retention_months): when the member was told their data goes for inactivity.
    retention_warned_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = PresentMembers()
    all_objects = ShopScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-joined_at"]
        constraints = [
            models.UniqueConstraint(fields=["shop", "code"], name="member_code_unique_per_shop"),
            # Joining twice never makes a second member, even when two joins race.
            # One member per mailbox: name+tag@ and Gmail's dotted forms are the same person.
            models.UniqueConstraint(
                fields=["shop", "email_canonical"],
                condition=~models.Q(email_canonical=""),
                name="member_email_unique_per_shop",
            ),
            models.UniqueConstraint(
                fields=["shop", "phone"], condition=~models.Q(phone=""), name="member_phone_unique_per_shop"
            ),
        ]
        indexes = [
            # The members list by last visit (on PostgreSQL migration 0010 adds the NULLS LAST order
            # the list sorts by; SQLite puts missing visits last by itself), by joining, by name.
            models.Index(fields=["shop", "-last_visit_at"], name="member_shop_last_visit"),
            models.Index(fields=["shop", "-joined_at"], name="member_shop_joined"),
            models.Index(fields=["shop", "name"], name="member_shop_name"),
            # Likely duplicates at the counter: the same name and birthday (members/duplicates.py).
            models.Index(fields=["shop", "birthday"], name="member_shop_birthday"),
            # On PostgreSQL, migration 0010 adds trigram indexes for searching by part of a name,
            # address or phone (SQLite has none and scans).
        ]

    def __str__(self):
        return self.name or gettext("Erased member")

    def save(self, *args, **kwargs):
        # Derived from the address, so it can never disagree with it.
        self.email_canonical = canonical_email(self.email)
        if kwargs.get("update_fields") is not None and "email" in kwargs["update_fields"]:
            kwargs["update_fields"] = {*kwargs["update_fields"], "email_canonical"}
        super().save(*args, **kwargs)


INTERRUPTED = "Interrupted while sending; not resent, to avoid a duplicate."


class Message(models.Model):
    """One message to one member, by e-mail or on the shop's LINE account, written in the same
    transaction as the event that causes it.

    The unique constraint makes it at most one per (campaign, member, occasion), whichever way it
    goes: a retried job or a double event finds the row already there."""

    class Channel(models.TextChoices):
        EMAIL = "email", _("E-mail")
        LINE = "line", "LINE"

    class Kind(models.TextChoices):
        TRANSACTIONAL = "transactional", _("Service message")
        MARKETING = "marketing", _("News and offers")

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting")
        SENDING = "sending", _("Sending")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="messages")
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="messages")
    campaign = models.CharField(max_length=60)
    occasion = models.CharField(max_length=60)
    kind = models.CharField(max_length=14, choices=Kind.choices)
    template = models.CharField(max_length=100)
    context = models.JSONField(default=dict, blank=True)
    channel = models.CharField(_("channel"), max_length=5, choices=Channel.choices, default=Channel.EMAIL)
    to_email = models.EmailField(blank=True)
    # The member's LINE user id at the shop's official account, for a message on LINE.
    to_line = models.CharField(max_length=64, blank=True)
    status = models.CharField(_("status"), max_length=8, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(_("error"), blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    objects = ShopScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["shop", "member", "campaign", "occasion"], name="one_message_per_campaign_member_occasion"
            )
        ]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="message_due"),
            # The owner's message list: the latest, and the failed ones by their next try.
            models.Index(fields=["shop", "-created_at"], name="message_shop_latest"),
            models.Index(fields=["shop", "status", "-next_attempt_at"], name="message_shop_status"),
        ]

    def __str__(self):
        return f"{self.campaign}/{self.occasion} to {self.to_email or self.channel}: {self.status}"

    @property
    def may_have_arrived(self) -> bool:
        """A worker died while sending it: the mail server may have it already."""
        return self.last_error == INTERRUPTED


class AuditEntry(models.Model):
    """What an owner did that the ledger does not show, for the shop's audit trail: who, when, to
    whom (by member code, never by name: the entry outlives an erasure) and why."""

    class Action(models.TextChoices):
        MEMBER_ERASED = "member_erased", _("Erased a member's personal data")
        MEMBER_LEFT = "member_left", _("A member left and erased their personal data")
        MEMBERS_IMPORTED = "members_imported", _("Imported members from a file")
        MEMBERS_EXPORTED = "members_exported", _("Exported members or the ledger")
        MEMBERS_MERGED = "members_merged", _("Merged two records of one member")
        MERGE_UNDONE = "merge_undone", _("Undid a merge of two members")
        MEMBER_RETIRED = "member_retired", _("Removed an inactive member (retention)")
        RETENTION_SET = "retention_set", _("Changed how long inactive members are kept")
        LOOKUP_BURST = "lookup_burst", _("Looked members up at the counter faster than the limit")
        MFA_REQUIRED = "mfa_required", _("Required two-factor sign-in for owners and managers")
        MFA_NOT_REQUIRED = "mfa_not_required", _("Stopped requiring two-factor sign-in")
        LINE_CONNECTED = "line_connected", _("Connected the shop's LINE official account")
        LINE_DISCONNECTED = "line_disconnected", _("Disconnected the shop's LINE official account")
        WEBHOOK_ADDED = "webhook_added", _("Added a webhook endpoint")
        WEBHOOK_CHANGED = "webhook_changed", _("Changed a webhook endpoint")
        WEBHOOK_DELETED = "webhook_deleted", _("Deleted a webhook endpoint")
        WEBHOOK_SECRET_ROLLED = "webhook_secret", _("Rolled a webhook endpoint's signing secret")
        API_KEY_CREATED = "api_key_created", _("Created an API key")
        API_KEY_REVOKED = "api_key_revoked", _("Revoked an API key")

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="audit")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    action = models.CharField(max_length=20, choices=Action.choices)
    subject = models.CharField(max_length=40, blank=True)
    note = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    objects = ShopScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["shop", "-created_at"], name="audit_shop_latest")]

    def __str__(self):
        return f"{self.get_action_display()} {self.subject}"

    @property
    def note_text(self) -> str:
        """The note in the reader's language. The portal's own notes are kept as values (a note
        outlives the language it was written in); an owner's are shown as they typed them."""
        found = AUDIT_NOTES.get(self.action, re.compile("(?!)")).fullmatch(self.note)
        if found is None:
            return self.note
        if self.action == self.Action.RETENTION_SET:
            old, new = (retention_words(int(months)) for months in found.groups())
            return gettext("From %(old)s to %(new)s.") % {"old": old, "new": new}
        if self.action == self.Action.LOOKUP_BURST:
            return gettext("More than %(limit)s look-ups in a minute; slowed down.") % {"limit": found[1]}
        seen, told = found.groups()
        return gettext("No visit since %(seen)s; told on %(told)s that their data would be removed.") % {
            "seen": seen, "told": told,
        }  # fmt: skip


def retention_words(months: int | None) -> str:
    if not months:
        return gettext("keeping members until they leave")
    # Never fewer than 6 months: no singular needed.
    return gettext("removing members inactive for %(months)d months") % {"months": months}


# The notes the portal writes itself, as values: months before and after (0: kept until they
# leave), and a retired member's last visit and the day they were told.
AUDIT_NOTES = {
    AuditEntry.Action.RETENTION_SET: re.compile(r"(\d+) -> (\d+)"),
    AuditEntry.Action.MEMBER_RETIRED: re.compile(r"(\d{4}-\d\d-\d\d) (\d{4}-\d\d-\d\d)"),
    AuditEntry.Action.LOOKUP_BURST: re.compile(r"(\d+)/min"),
}


class DataDownload(models.Model):
    """A customer asked for a copy of everything the shops hold about them: the worker prepares an
    archive and e-mails a link to it, which works for ``DATA_DOWNLOAD_DAYS``; then the file goes."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="data_downloads")
    language = models.CharField(max_length=10, default="en")
    requested_at = models.DateTimeField(default=timezone.now)
    ready_at = models.DateTimeField(null=True, blank=True)
    # The archive's name in the default storage: random, and only ever served through the view.
    file = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-requested_at"]
        indexes = [models.Index(fields=["ready_at", "requested_at"], name="data_download_due")]

    def __str__(self):
        return f"{self.user} {self.requested_at:%Y-%m-%d %H:%M}"


class MemberImport(models.Model):
    """A file of members a shop brings in (CSV or XLSX): uploaded, its columns mapped, previewed, then
    run by the worker batch by batch. See rewards/imports.py."""

    class Status(models.TextChoices):
        UPLOADED = "uploaded", _("Waiting for its columns")
        QUEUED = "queued", _("Waiting for the worker")
        RUNNING = "running", _("Importing")
        DONE = "done", _("Imported")
        FAILED = "failed", _("Failed")

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="imports")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    filename = models.CharField(max_length=200)
    # The upload's name in the default storage (random; deleted when the import is done).
    file = models.CharField(max_length=200, blank=True)
    encoding = models.CharField(max_length=20, blank=True)
    header = models.JSONField(default=list)
    # The first row's values as text, shown beside the column names while mapping them.
    sample = models.JSONField(default=list)
    # Field name -> column number in ``header``.
    mapping = models.JSONField(default=dict)
    rows = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.UPLOADED)
    processed = models.PositiveIntegerField(default=0)
    # new / matched / unchanged / rejected, and the vouchers full cards became.
    counts = models.JSONField(default=dict)
    # The rejected rows with their reasons, as CSV (at most the upload's size; removed with the upload's
    # days, see rewards.imports.purge).
    rejected = models.TextField(blank=True)
    error = models.CharField(max_length=300, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = ShopScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return self.filename


class ShopExport(models.Model):
    """A shop's members, ledger or memberships sold for a period as CSV or XLSX, prepared by the
    worker; the file is kept for ``DATA_DOWNLOAD_DAYS`` and only ever served to the shop's owners."""

    class Kind(models.TextChoices):
        MEMBERS = "members", _("Members")
        LEDGER = "ledger", _("Ledger")
        MEMBERSHIPS = "memberships", _("Memberships and bundles sold")

    class Format(models.TextChoices):
        CSV = "csv", "CSV"
        XLSX = "xlsx", "Excel (XLSX)"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="exports")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    requested_at = models.DateTimeField(default=timezone.now)
    kind = models.CharField(max_length=12, choices=Kind.choices)
    format = models.CharField(max_length=4, choices=Format.choices)
    # The period, in the shop's days, both ends included; empty: from the start, to today.
    date_from = models.DateField(null=True, blank=True)
    date_to = models.DateField(null=True, blank=True)
    ready_at = models.DateTimeField(null=True, blank=True)
    rows = models.PositiveIntegerField(default=0)
    file = models.CharField(max_length=200, blank=True)

    objects = ShopScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-requested_at", "-id"]
        indexes = [models.Index(fields=["ready_at", "requested_at"], name="shop_export_due")]

    def __str__(self):
        return f"{self.shop} {self.kind} {self.requested_at:%Y-%m-%d %H:%M}"


class MemberMerge(models.Model):
    """Two records of one person made one: ``merged`` (closed) into ``kept``. What moved is listed so a
    manager can undo it within a day (rewards/services/merge.py)."""

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="merges")
    kept = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="merges_kept")
    merged = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="merges_into")
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    # The ledger group of the rows that moved the balances.
    group = models.UUIDField(default=uuid.uuid4)
    # Primary keys of what moved, per kind, and the merged member's fields as they were.
    moved = models.JSONField(default=dict)
    undone_at = models.DateTimeField(null=True, blank=True)
    undone_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    objects = ShopScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"{self.merged_id} -> {self.kept_id}"


class LineChannel(models.Model):
    """A shop's LINE official account (Messaging API channel). The secret and the access token are
    stored encrypted (``members.line``) and never shown again; the tails are kept to tell them apart."""

    shop = models.OneToOneField(Shop, on_delete=models.CASCADE, related_name="line_channel")
    channel_id = models.CharField(_("channel ID"), max_length=20)
    secret_encrypted = models.TextField(editable=False)
    token_encrypted = models.TextField(editable=False)
    secret_tail = models.CharField(max_length=4, editable=False)
    token_tail = models.CharField(max_length=4, editable=False)
    connected_at = models.DateTimeField(default=timezone.now, editable=False)
    connected_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", editable=False
    )

    def __str__(self):
        return f"{self.shop} · LINE {self.channel_id}"


class LineFollower(models.Model):
    """A LINE account that follows a shop's official account, linked to one of its members once
    they send the code from their card."""

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="line_followers")
    line_user_id = models.CharField(max_length=64)
    member = models.ForeignKey(Member, on_delete=models.SET_NULL, null=True, blank=True, related_name="line_followers")
    following = models.BooleanField(default=True)
    followed_at = models.DateTimeField(default=timezone.now)
    unfollowed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["shop", "line_user_id"], name="line_follower_unique_per_shop"),
        ]

    def __str__(self):
        return f"{self.shop} · {self.line_user_id}"


class LineLinkCode(models.Model):
    """The one-time code a member sends to the shop's LINE account to link it to their card: one per
    member at a time, spent once used, refused once expired."""

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="+")
    member = models.OneToOneField(Member, on_delete=models.CASCADE, related_name="line_link_code")
    code = models.CharField(max_length=8)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["shop", "code"], name="line_link_code_unique_per_shop")]

    def __str__(self):
        return f"{self.shop} · {self.code}"


def webhook_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


class WebhookEndpoint(models.Model):
    """An HTTPS address of the shop's own systems that is told of the events it subscribes to
    (``members.webhooks``); each delivery is signed with ``secret``."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="webhook_endpoints")
    url = models.URLField(_("URL"), max_length=500)
    # Event names (members.webhooks.EVENTS), checked by the owner's form.
    events = models.JSONField(_("events"), default=list)
    secret = models.CharField(max_length=80, default=webhook_secret, editable=False)
    description = models.CharField(_("description"), max_length=200, blank=True)
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", editable=False
    )

    objects = ShopScopedQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self):
        return f"{self.shop} · {self.url}"


class WebhookDelivery(models.Model):
    """One event for one endpoint: sent at most once per (endpoint, event), retried on failure, and
    sent again only when the owner replays it from the log (same event id and body)."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting")
        SENDING = "sending", _("Sending")
        SENT = "sent", _("Delivered")
        FAILED = "failed", _("Failed")

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    event_id = models.UUIDField()
    event = models.CharField(max_length=40)
    payload = models.JSONField(default=dict)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_response = models.CharField(max_length=500, blank=True)
    last_duration_ms = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # The once-per-occasion guarantee: one event reaches one endpoint through one row.
            models.UniqueConstraint(fields=["endpoint", "event_id"], name="webhook_delivery_once_per_event"),
        ]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="webhook_delivery_due")]

    def __str__(self):
        return f"{self.event} {self.event_id} → {self.endpoint_id}"


class WebhookAttempt(models.Model):
    """One POST of a delivery, as the owner's log shows it: when, the answer's code, how long, why not."""

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log")
    at = models.DateTimeField(default=timezone.now)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    error = models.CharField(max_length=500, blank=True)
    replay = models.BooleanField(default=False)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self):
        return f"{self.delivery_id} {self.at:%Y-%m-%d %H:%M:%S} {self.status_code or self.error[:40]}"
