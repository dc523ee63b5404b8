"""Campaigns: who they reach, what they give, the messages they send.

Every reach happens under the member's lock, in one transaction with its
Reach row (whose unique constraint makes it happen once per occasion), its
gift (through rewards.services) and its message (through the outbox). The
beat tasks below can run any number of times a day, in any time zone: what
was done is found, not done again.
"""

import copy
import hashlib
import logging
from datetime import date, datetime, time, timedelta

from django.db import IntegrityError, transaction
from django.db.models import Count, DateTimeField, Exists, ExpressionWrapper, F, OuterRef, Q, Subquery, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from members import outbox
from members.models import Member, Message
from rewards.ledger import lock_member
from rewards.models import LedgerEntry, Membership, Voucher
from rewards.services import gift_grant_locked
from rewards.services.menu import usual_order

from .audience import (
    anniversary_on,
    audience,
    birthday_within,
    day_within,
    held_out_count,
    in_audience,
    is_held_out,
    next_birthday,
)
from .insights.stats import uplift
from .models import Campaign, CampaignFigures, Reach, ReferralRefusal

logger = logging.getLogger(__name__)

Kind = Campaign.Kind
CAMPAIGN_TEMPLATE = "campaigns/email/campaign"
RESULTS_DAYS = 30
REMINDER_DAYS = 3
BATCH = 1_000
# Birthday and win-back messages go out in the shop's daytime, never at midnight.
DAYTIME = (time(9), time(21))


def is_daytime(shop, now: datetime) -> bool:
    return DAYTIME[0] <= timezone.localtime(now, shop.tz).time() < DAYTIME[1]


def campaign_save(*, campaign: Campaign) -> Campaign:
    """Create or change a campaign. What it already gave stays given; the change applies from now on."""
    with transaction.atomic():
        if campaign.kind in (Kind.BOOST, Kind.REFERRAL):
            campaign.holdout_percent = 0
        campaign.save()
    return campaign


def running(shop_id: int, kind: str, now: datetime):
    return Campaign.objects.running(shop_id, kind, now).select_related("shop", "gift_program", "gift_plan")


def _reach_locked(
    campaign: Campaign, member: Member, occasion: str, now: datetime, *, voucher_expires=None, context=None
) -> Reach | None:
    """Reach one member for one occasion; None if this occasion was already theirs.
    The caller holds the member lock and the transaction."""
    try:
        with transaction.atomic():
            reach = Reach.objects.create(
                shop_id=campaign.shop_id, campaign=campaign, member=member, occasion=occasion,
                held_out=is_held_out(campaign, member), created_at=now,
            )  # fmt: skip
    except IntegrityError:
        return None
    if reach.held_out:
        return reach
    title = None
    if campaign.voucher_usual and campaign.gift == Campaign.Gift.VOUCHER and (usual := usual_order(member)):
        title = f"{campaign.voucher_title or campaign.name}: {usual.item.name}"[:80]
    gift = gift_grant_locked(
        member=member, campaign=campaign, now=now, voucher_expires=voucher_expires, voucher_title=title
    )
    reach.voucher, reach.stamps, reach.points, reach.trial = gift.voucher, gift.stamps, gift.points, gift.trial
    if campaign.sends_messages:
        facts = {
            "kind": campaign.kind,
            "title": campaign.name,
            "subject": campaign.subject,
            "body": campaign.body,
            "stamps": gift.stamps,
            "card": gift.program.name if gift.program else "",
            "points": gift.points,
            "voucher": gift.voucher.title if gift.voucher else "",
            "voucher_code": gift.voucher.code if gift.voucher else "",
            "voucher_until": _last_day(gift.voucher, campaign) if gift.voucher else "",
            "trial_plan": gift.trial.plan.name if gift.trial else "",
            "trial_until": _local_day(gift.trial.ends_at, campaign) if gift.trial else "",
            **(context or {}),
        }
        reach.message = outbox.message_queue(
            member=member, campaign=str(campaign.public_id), occasion=occasion, template=CAMPAIGN_TEMPLATE,
            kind=Message.Kind.MARKETING, context=facts,
        )  # fmt: skip
    reach.save(update_fields=["voucher", "stamps", "points", "trial", "message"])
    return reach


def _last_day(voucher: Voucher, campaign: Campaign) -> str:
    """The last day a voucher can be used, as the shop's calendar says (ISO, readable in every language)."""
    if voucher.expires_at is None:
        return ""
    return _local_day(voucher.expires_at, campaign)


def _local_day(ends_at: datetime, campaign: Campaign) -> str:
    """The shop's day that ends at ``ends_at`` (an end at midnight is the day before's)."""
    return (timezone.localtime(ends_at, campaign.shop.tz) - timedelta(microseconds=1)).date().isoformat()


# Welcome and referral: driven by joining and by the counter.


def welcome_locked(*, member: Member, now: datetime) -> list[Reach]:
    """At joining, in the join's transaction: every running welcome campaign the member is in."""
    reaches = []
    for campaign in running(member.shop_id, Kind.WELCOME, now):
        if in_audience(campaign, member) and (reach := _reach_locked(campaign, member, "join", now)):
            reaches.append(reach)
    return reaches


def referral_refusal(friend: Member, referrer: Member, campaign: Campaign) -> str:
    """Why this referral pays nobody ("" if it pays both): the friend must be another person by
    every identifier the shop holds (account, canonical e-mail, phone), of the same shop, who
    joined after the referrer and after the campaign began, and the referrer under the limit."""
    Reason = ReferralRefusal.Reason
    if referrer.shop_id != friend.shop_id:
        return Reason.OTHER_SHOP
    if (
        referrer.pk == friend.pk
        or (referrer.user_id and referrer.user_id == friend.user_id)
        or (referrer.email_canonical and referrer.email_canonical == friend.email_canonical)
        or (referrer.phone and referrer.phone == friend.phone)
    ):
        return Reason.SAME_PERSON
    if friend.joined_at < (campaign.starts_at or campaign.created_at) or friend.joined_at <= referrer.joined_at:
        return Reason.JOINED_BEFORE
    rewarded = Reach.objects.filter(campaign=campaign, member=referrer, occasion__startswith="friend:").count()
    return "" if rewarded < campaign.referral_limit else Reason.LIMIT


def referral_on_visit(*, member_id: int, now: datetime) -> list[Reach]:
    """A referred friend's first visit: both get the bonus, once. Runs in the visit's transaction,
    the friend's row already locked; the referrer's row is locked second (a referrer always
    joined before the friend, so two visits can never wait on each other in a circle)."""
    friend = Member.objects.get(pk=member_id)
    if friend.referred_by_id is None:
        return []
    campaign = running(friend.shop_id, Kind.REFERRAL, now).first()
    if campaign is None or Reach.objects.filter(campaign=campaign, member=friend, occasion="referred").exists():
        return []
    if not Member.objects.filter(pk=friend.referred_by_id).exists():
        return []  # the referrer left the programme: nobody to reward
    referrer = lock_member(friend.referred_by_id)
    if reason := referral_refusal(friend, referrer, campaign):
        ReferralRefusal.objects.get_or_create(
            campaign=campaign,
            friend=friend,
            defaults={"shop_id": friend.shop_id, "referrer": referrer, "reason": reason},
        )
        return []
    reaches = [
        _reach_locked(campaign, friend, "referred", now, context={"friend": referrer.name, "role": "friend"}),
        _reach_locked(
            campaign, referrer, f"friend:{friend.public_id}", now, context={"friend": friend.name, "role": "referrer"}
        ),
    ]
    return [reach for reach in reaches if reach]


# Beat tasks: each idempotent, each reading the day in every shop's own time zone.


def _each_member(campaign: Campaign, member_ids, reach) -> int:
    """Reach members one transaction each, so one failure does not undo the others."""
    done = 0
    for member_id in member_ids:
        try:
            with transaction.atomic():
                member = lock_member(member_id)
                if reach(member):
                    done += 1
        except Exception:
            logger.exception("Campaign %s could not reach member %s", campaign.pk, member_id)
    return done


def birthdays_run(*, now=None) -> int:
    """Birthday gifts, ``days_before`` the birthday in the shop's calendar, once a year.

    A day missed (a worker down, a member who joined last week) is caught up:
    anyone whose birthday falls between today and the horizon is due."""
    now = now or timezone.now()
    done = 0
    for campaign in Campaign.objects.filter(kind=Kind.BIRTHDAY, is_active=True).select_related("shop"):
        if not campaign.is_running(now) or not is_daytime(campaign.shop, now):
            continue
        tz = campaign.shop.tz
        today = timezone.localtime(now, tz).date()
        horizon = today + timedelta(days=campaign.days_before)
        candidates = audience(campaign).filter(birthday_within(today, horizon))
        # Those reached already this year (the days before a birthday are several runs): one query,
        # not a locked transaction each that finds the reach and does nothing.
        years = {str(today.year), str(horizon.year)}
        reached = set(
            campaign.reaches.filter(occasion__in=years, member__in=candidates.values("pk")).values_list(
                "member_id", "occasion"
            )
        )
        due = {}
        for member_id, born in candidates.values_list("pk", "birthday"):
            day = next_birthday(born, today)
            if day <= horizon and (member_id, str(day.year)) not in reached:
                due[member_id] = day

        def reach(member, campaign=campaign, due=due, tz=tz):
            day = due[member.pk]
            # Valid from now until as many days after the birthday as it came before, at least a week.
            after = max(campaign.days_before, 7)
            expires = datetime.combine(day + timedelta(days=after + 1), time.min, tzinfo=tz)
            context = {"birthday": day.isoformat()}
            return _reach_locked(campaign, member, str(day.year), now, voucher_expires=expires, context=context)

        done += _each_member(campaign, due, reach)
    return done


# A day the worker missed is caught up for this long; older anniversaries are let go.
ANNIVERSARY_CATCH_UP_DAYS = 7
# The gift grows with the years up to this many.
ANNIVERSARY_MOST_YEARS = 10


def anniversaries_run(*, now=None) -> int:
    """Anniversaries of joining: on the day in the shop's calendar, every year, once per year of
    membership (the occasion is the number of years); stamps and points grow with the years, up to
    ten. A day missed (a worker down) is caught up for a week."""
    now = now or timezone.now()
    done = 0
    for campaign in Campaign.objects.filter(kind=Kind.ANNIVERSARY, is_active=True).select_related("shop"):
        if not campaign.is_running(now) or not is_daytime(campaign.shop, now):
            continue
        tz = campaign.shop.tz
        today = timezone.localtime(now, tz).date()
        since = today - timedelta(days=ANNIVERSARY_CATCH_UP_DAYS)
        # The month and day of joining in the shop's time zone, where members joined.
        with timezone.override(tz):
            joined = list(
                audience(campaign)
                .filter(day_within("joined_at", since, today), joined_at__lt=now - timedelta(days=360))
                .values_list("pk", "joined_at")
            )
        due = {}
        for member_id, at in joined:
            start = timezone.localtime(at, tz).date()
            day = next((d for d in _days(since, today) if anniversary_on(start, d)), None)
            if day is not None:
                due[member_id] = anniversary_on(start, day)
        reached = set(
            campaign.reaches.filter(member_id__in=due, occasion__in={str(y) for y in due.values()}).values_list(
                "member_id", "occasion"
            )
        )
        due = {member_id: years for member_id, years in due.items() if (member_id, str(years)) not in reached}

        def reach(member, campaign=campaign, due=due):
            years = due[member.pk]
            grown = copy.copy(campaign)
            grown.gift_stamps = (campaign.gift_stamps or 0) * min(years, ANNIVERSARY_MOST_YEARS)
            grown.gift_points = (campaign.gift_points or 0) * min(years, ANNIVERSARY_MOST_YEARS)
            return _reach_locked(grown, member, str(years), now, context={"years": years})

        done += _each_member(campaign, due, reach)
    return done


def _days(first: date, last: date):
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)


def _lapsed(campaign: Campaign, now: datetime):
    """Members not seen for ``days_away`` days (or never, since joining) and not yet reached since."""
    lapsed = (
        audience(campaign)
        .annotate(seen=Coalesce("last_visit_at", "joined_at"))
        .filter(seen__lte=now - timedelta(days=campaign.days_away))
    )
    if campaign.pk is None:  # a preview of a campaign not saved yet has reached nobody
        return lapsed
    reached_since = Reach.objects.filter(campaign=campaign, member=OuterRef("pk"), created_at__gte=OuterRef("seen"))
    return lapsed.exclude(Exists(reached_since))


def winback_run(*, now=None) -> int:
    """Win-back: once per lapse. The occasion is the last visit, so a member who comes back
    and lapses again is a new occasion."""
    now = now or timezone.now()
    done = 0
    winbacks = Campaign.objects.filter(kind=Kind.WINBACK, is_active=True, days_away__isnull=False)
    for campaign in winbacks.select_related("shop"):
        if not campaign.is_running(now) or not is_daytime(campaign.shop, now):
            continue
        campaign = Campaign.objects.select_related("shop", "gift_program").get(pk=campaign.pk)

        def reach(member, campaign=campaign):
            seen = member.last_visit_at or member.joined_at
            if seen > now - timedelta(days=campaign.days_away):
                return None  # came back since the list was made
            days = (now - seen).days
            return _reach_locked(campaign, member, f"lapse:{int(seen.timestamp())}", now, context={"days": days})

        done += _each_member(campaign, list(_lapsed(campaign, now).values_list("pk", flat=True)), reach)
    return done


def announcement_audience(campaign: Campaign):
    return audience(campaign).filter(marketing_consent=True).exclude(email="")


def announcement_send(*, campaign: Campaign, now=None) -> int:
    """Send an announcement to opted-in members of its audience; a second run sends only to
    those the first did not reach."""
    now = now or timezone.now()
    campaign = Campaign.objects.select_related("shop", "gift_program", "gift_plan").get(pk=campaign.pk)
    if campaign.kind != Kind.ANNOUNCEMENT or not campaign.is_active:
        return 0
    pending = announcement_audience(campaign).exclude(
        Exists(Reach.objects.filter(campaign=campaign, member=OuterRef("pk")))
    )
    done = _each_member(
        campaign,
        list(pending.values_list("pk", flat=True)),
        lambda member: _reach_locked(campaign, member, "announcement", now),
    )
    with transaction.atomic():
        Campaign.objects.filter(pk=campaign.pk, sent_at__isnull=True).update(sent_at=now)
    return done


def announcement_send_now(*, campaign: Campaign) -> None:
    """The owner's "send now": scheduled for this minute, sent by a worker after the commit
    (or by the next beat run if the broker is down)."""
    with transaction.atomic():
        Campaign.objects.filter(pk=campaign.pk, sent_at__isnull=True).update(send_at=timezone.now())
        outbox.enqueue("campaigns.tasks.send_announcements")


def announcements_run(*, now=None) -> int:
    now = now or timezone.now()
    due = Campaign.objects.filter(kind=Kind.ANNOUNCEMENT, is_active=True, sent_at__isnull=True, send_at__lte=now)
    return sum(announcement_send(campaign=campaign, now=now) for campaign in due)


def voucher_reminders_run(*, now=None) -> int:
    """A reminder a few days before a voucher expires, once per voucher, to members who want news.
    In batches by id, so a big shop's run holds one batch in memory at a time."""
    now = now or timezone.now()
    # Only members who can get news: the outbox would refuse the others anyway.
    due = (
        Voucher.objects.filter(
            status=Voucher.Status.ISSUED, expires_at__gt=now, expires_at__lte=now + timedelta(days=REMINDER_DAYS),
            member__marketing_consent=True,
        )
        .exclude(member__email="")
        .select_related("member__shop")
        .order_by("pk")
    )  # fmt: skip
    sent, after = 0, 0
    while batch := list(due.filter(pk__gt=after)[:BATCH]):
        after = batch[-1].pk
        reminded = set(
            Message.objects.filter(
                campaign="voucher_reminder", occasion__in=[str(voucher.public_id) for voucher in batch]
            ).values_list("occasion", flat=True)
        )
        for voucher in (v for v in batch if str(v.public_id) not in reminded):
            with transaction.atomic():
                message = outbox.message_queue(
                    member=voucher.member, campaign="voucher_reminder", occasion=str(voucher.public_id),
                    template="campaigns/email/voucher_reminder", kind=Message.Kind.MARKETING,
                    context={"voucher": voucher.title, "voucher_code": voucher.code,
                             "voucher_until": (timezone.localtime(voucher.expires_at, voucher.member.shop.tz)
                                               - timedelta(microseconds=1)).date().isoformat()},
                )  # fmt: skip
            sent += message is not None
    return sent


# What the owner sees: who a campaign would reach now, and what it did.


def preview(campaign: Campaign, now=None) -> dict:
    """Who the campaign would reach if it ran now: a count, a few names, and those held back."""
    now = now or timezone.now()
    members = audience(campaign)
    if campaign.kind == Kind.BIRTHDAY:
        today = timezone.localtime(now, campaign.shop.tz).date()
        horizon = today + timedelta(days=campaign.days_before)
        members = members.filter(birthday_within(today, horizon))
    elif campaign.kind == Kind.WINBACK:
        members = _lapsed(campaign, now) if campaign.days_away else members.none()
    elif campaign.kind == Kind.ANNIVERSARY:
        today = timezone.localtime(now, campaign.shop.tz).date()
        with timezone.override(campaign.shop.tz):
            members = members.filter(day_within("joined_at", today, today), joined_at__lt=now - timedelta(days=360))
            members = members.filter(pk__in=list(members.values_list("pk", flat=True)))
    elif campaign.kind == Kind.ANNOUNCEMENT:
        members = announcement_audience(campaign)
    count = members.count()
    sample = list(members.order_by("name")[:8])
    held = held_out_count(campaign, members)
    return {"count": count, "sample": sample, "held_out": held, "now": now}


def results(campaign: Campaign) -> dict:
    """Messages sent, vouchers issued and redeemed, and how often reached members came back in the
    30 days after, beside the members held back for comparison."""
    visits = (
        LedgerEntry.objects.filter(
            member=OuterRef("member"), created_at__gt=OuterRef("created_at"), created_at__lte=OuterRef("window_end")
        )
        .visits()
        .order_by()
        .values("member")
        .annotate(n=Count("pk"))
        .values("n")
    )
    window = timedelta(days=RESULTS_DAYS)
    reaches = campaign.reaches.annotate(
        window_end=ExpressionWrapper(F("created_at") + window, output_field=DateTimeField())
    ).annotate(visits=Coalesce(Subquery(visits), 0))
    # Summed in the database, one row per group: a campaign of a big shop has a million reaches.
    sums = (
        reaches.order_by()
        .values("held_out")
        .annotate(members=Count("pk"), returned=Count("pk", filter=Q(visits__gt=0)), visits_sum=Sum("visits"))
    )
    groups = {False: {"members": 0, "returned": 0, "visits": 0}, True: {"members": 0, "returned": 0, "visits": 0}}
    for row in sums:
        groups[row["held_out"]].update(members=row["members"], returned=row["returned"], visits=row["visits_sum"])
    for group in groups.values():
        group["rate"] = round(100 * group["returned"] / group["members"]) if group["members"] else None
    messages = Message.objects.filter(reach__campaign=campaign).aggregate(
        sent=Count("pk", filter=Q(status=Message.Status.SENT)),
        failed=Count("pk", filter=Q(status=Message.Status.FAILED)),
        waiting=Count("pk", filter=Q(status__in=[Message.Status.PENDING, Message.Status.SENDING])),
    )
    vouchers = Voucher.objects.filter(reach__campaign=campaign).aggregate(
        issued=Count("pk"), redeemed=Count("pk", filter=Q(status=Voucher.Status.REDEEMED))
    )
    # Free trials given, and how many of those members bought the plan after the trial began.
    bought = Membership.objects.filter(
        member=OuterRef("member"), plan=OuterRef("plan"), trial=False, created_at__gt=OuterRef("starts_at")
    )
    trials = (
        Membership.objects.filter(reach__campaign=campaign)
        .annotate(bought=Exists(bought))
        .aggregate(trials=Count("pk"), trials_taken=Count("pk", filter=Q(bought=True)))
    )
    reached, held = groups[False], groups[True]
    lift = reached["rate"] - held["rate"] if reached["rate"] is not None and held["rate"] is not None else None
    # Referrals that paid nobody, by reason (one query, empty for other kinds).
    refused = [
        (reason, count)
        for reason, count in campaign.referral_refusals.values_list("reason").annotate(n=Count("id")).order_by("reason")
    ] if campaign.kind == Kind.REFERRAL else []  # fmt: skip
    return {
        "reached": reached, "held_out": held, "lift": lift, "days": RESULTS_DAYS, "refused": refused,
        **messages, **vouchers, **trials,
    }  # fmt: skip


# The figures the owner's pages show, kept by the worker.

FIGURES_EVERY = timedelta(minutes=15)


def _settings_of(campaign: Campaign) -> str:
    """A fingerprint of what the owner set, so a kept preview of other settings is never shown."""
    values = [str(getattr(campaign, field.attname)) for field in Campaign._meta.concrete_fields if field.editable]
    return hashlib.sha256("\x1f".join(values).encode()).hexdigest()[:16]


def audience_figures(campaign: Campaign, now=None) -> dict:
    """``preview`` in the form the worker keeps: counts and the sample's names."""
    shown = preview(campaign, now)
    sample = [member.name for member in shown["sample"]]
    return {"count": shown["count"], "held_out": shown["held_out"], "sample": sample, "for": _settings_of(campaign)}


def figures_refresh(*, campaign: Campaign, now=None) -> CampaignFigures:
    """Count what a campaign did now, and who it would reach now, and keep the figures."""
    figures = results(campaign)
    figures["audience"] = audience_figures(campaign, now)
    with transaction.atomic():
        kept, _created = CampaignFigures.objects.update_or_create(
            campaign=campaign, defaults={"figures": figures, "computed_at": now or timezone.now()}
        )
    return kept


def figures_refresh_due(*, now=None) -> int:
    """Beat: refresh the figures of campaigns that can still change (running, or ended less than the
    results window ago) once they are FIGURES_EVERY old. Idempotent; one campaign at a time."""
    now = now or timezone.now()
    due = Campaign.objects.exclude(ends_at__lt=now - timedelta(days=RESULTS_DAYS + 1)).exclude(
        figures__computed_at__gt=now - FIGURES_EVERY
    )
    return sum(1 for campaign in due.select_related("shop") if figures_refresh(campaign=campaign, now=now))


def figures(campaign: Campaign) -> dict:
    """The figures for the campaign's page: those the worker kept (counted the first time if none
    were), with when they were counted and the refusal reasons in words."""
    kept = CampaignFigures.objects.filter(campaign=campaign).first() or figures_refresh(campaign=campaign)
    audience = kept.figures.get("audience")
    if audience is None or audience["for"] != _settings_of(campaign):
        # The owner changed the campaign since it was counted: its audience is counted again now.
        kept.figures["audience"] = audience_figures(campaign)
        CampaignFigures.objects.filter(pk=kept.pk).update(figures=kept.figures)
    data = dict(kept.figures)
    audience = data["audience"]
    data["audience"] = {**audience, "sample": [{"name": name} for name in audience["sample"]]}
    data["refused"] = [(ReferralRefusal.Reason(reason).label, count) for reason, count in data.get("refused", [])]
    # Figures kept before campaigns gave trials have none.
    data.setdefault("trials", 0)
    data.setdefault("trials_taken", 0)
    data["as_of"] = kept.computed_at
    reached, held = data["reached"], data["held_out"]
    data["uplift"] = uplift(reached["members"], reached["returned"], held["members"], held["returned"])
    return data
