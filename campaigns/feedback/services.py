"""Feedback after a visit: the shop's setting, a member's answer, the owner's reply, and the card's
question.

A member may answer about their latest visit within ``VISIT_WINDOW``, once per visit and once a day
in the shop's time zone. Both rules are checked again under the member's lock (the one lock of every
action on a member: ``rewards.ledger.lock_member``), and the unique constraints on (member, day) and
on the visit hold even if something got past it: a double tap or two tabs make one answer.
"""

from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from members.config import shop_cached
from members.errors import Code, LoyaltyError
from members.models import Member, Message, Shop, User
from members.outbox import message_queue
from members.tenancy import staff_may
from members.tokens import card_token
from rewards.ledger import lock_member
from rewards.models import LedgerEntry

from ..models import Feedback, FeedbackSetup

QUESTION = gettext_lazy("How was your visit today?")
RATINGS = (1, 2, 3, 4, 5)
# How long after a visit its card asks about it.
VISIT_WINDOW = timedelta(hours=24)
# The outbox's campaign for replies: one message per answer (its public id is the occasion).
REPLY = "feedback_reply"
REPLY_TEMPLATE = "campaigns/email/feedback_reply"


def _load(shop: Shop) -> FeedbackSetup | None:
    return FeedbackSetup.objects.filter(shop=shop).first()


def setup_for(shop: Shop) -> FeedbackSetup | None:
    """The shop's setting (None before the owner ever saved one), held in this process until it
    changes (``members.config``): the card asks on every view. Shared: never change what it returns."""
    return shop_cached(shop, "feedback", _load)


def asking(shop: Shop) -> FeedbackSetup | None:
    """The shop's setting when it asks for feedback, else None."""
    setup = setup_for(shop)
    return setup if setup is not None and setup.is_active else None


def question_text(setup: FeedbackSetup | None) -> str:
    return (setup.question if setup is not None else "") or str(QUESTION)


def setup_save(*, shop: Shop, by: User, is_active: bool, question: str, flag_at: int) -> FeedbackSetup:
    """Turn feedback on or off, and word the question. Saving changes the shop's settings key, so
    every process reads the setting again (``members.config.watch``)."""
    if not staff_may(shop, by, "programs.edit"):
        raise LoyaltyError(_("Only a manager or owner can change the feedback settings."), code=Code.NOT_ALLOWED)
    with transaction.atomic():
        setup = FeedbackSetup.objects.select_for_update().filter(shop=shop).first() or FeedbackSetup(shop=shop)
        setup.is_active, setup.question, setup.flag_at = is_active, question.strip(), flag_at
        setup.full_clean()
        setup.save()
    return setup


def recent_visits(member_id: int, now: datetime):
    """The member's visits within ``VISIT_WINDOW`` before ``now``, latest first."""
    rows = LedgerEntry.objects.filter(member_id=member_id, created_at__gt=now - VISIT_WINDOW, created_at__lte=now)
    return rows.visits()


def local_day(shop: Shop, now: datetime):
    return timezone.localtime(now, shop.tz).date()


def card_question(member: Member, setup: FeedbackSetup | None) -> dict:
    """What the card's form needs (no query)."""
    return {"question": question_text(setup), "token": card_token(member), "ratings": RATINGS,
            "comment_max": Feedback.COMMENT_MAX, "comment": "", "error": ""}  # fmt: skip


def question_for(member: Member, now: datetime) -> dict | None:
    """The question for the member's card, or None: nothing to ask (and no query) when the shop does
    not ask or the member's last visit is older than the window; otherwise one query, for the latest
    visit and whether it or today has an answer already."""
    setup = asking(member.shop)
    if setup is None or member.last_visit_at is None or member.last_visit_at <= now - VISIT_WINDOW:
        return None
    given = Feedback.objects.filter(member_id=member.pk).filter(
        Q(day=local_day(member.shop, now)) | Q(visit=OuterRef("pk"))
    )
    latest = recent_visits(member.pk, now).annotate(answered=Exists(given)).values("answered").first()
    if latest is None or latest["answered"]:
        return None
    return card_question(member, setup)


def clean_rating(value) -> int:
    """A rating of 1 to 5 from whatever a form sent, or a refusal."""
    try:
        rating = int(str(value).strip())
    except (TypeError, ValueError):
        rating = 0
    if rating not in RATINGS:
        raise LoyaltyError(_("Choose a rating from 1 to 5."), code=Code.BAD_RATING)
    return rating


def clean_comment(value: str | None, limit: int = Feedback.COMMENT_MAX) -> str:
    text = (value or "").strip()
    if len(text) > limit:
        raise LoyaltyError(
            _("Please keep it to %(limit)s characters (this is %(length)s).") % {"limit": limit, "length": len(text)},
            code=Code.TOO_LONG,
        )
    return text


def feedback_give(*, member: Member, rating, comment: str = "", now: datetime | None = None) -> Feedback:
    """A member's answer about their latest visit. Refused when the shop does not ask, without a
    visit in the last 24 hours, or when the member answered today (the shop's day) or about this
    visit already."""
    now = now or timezone.now()
    rating, comment = clean_rating(rating), clean_comment(comment)
    with transaction.atomic():
        locked = lock_member(member.pk)
        shop = locked.shop
        setup = asking(shop)
        if setup is None:
            raise LoyaltyError(_("This shop is not asking for feedback at the moment."), code=Code.FEEDBACK_OFF)
        # Under the lock: a second tap or another tab has committed its answer by now.
        visit = recent_visits(locked.pk, now).only("pk", "staff_id").first()
        if visit is None:
            raise LoyaltyError(
                _("Feedback is for a visit in the last 24 hours: tell us after your next one."),
                code=Code.NO_RECENT_VISIT,
            )
        day = local_day(shop, now)
        if Feedback.objects.filter(Q(member_id=locked.pk, day=day) | Q(visit_id=visit.pk)).exists():
            raise LoyaltyError(_("Thank you: you have told us about your visit already."), code=Code.FEEDBACK_GIVEN)
        return Feedback.objects.create(
            shop=shop, member=locked, visit_id=visit.pk, staff_id=visit.staff_id, rating=rating, comment=comment,
            day=day, flagged=rating <= setup.flag_at, created_at=now,
        )  # fmt: skip


def can_reply(feedback: Feedback) -> bool:
    """Whether a reply can go out: none yet, and the member has an e-mail address (and was not erased)."""
    member = feedback.member
    return feedback.replied_at is None and bool(member.email) and member.erased_at is None


def feedback_reply(*, feedback: Feedback, by: User, text: str, now: datetime | None = None) -> Feedback:
    """The shop's reply to an answer, by e-mail through the outbox in the member's language: once per
    answer (the message's occasion is the answer, unique in the outbox), recorded with who and when."""
    now = now or timezone.now()
    text = clean_comment(text, Feedback.REPLY_MAX)
    if not text:
        raise LoyaltyError(_("Write the reply first."), code=Code.NOTE_REQUIRED)
    with transaction.atomic():
        locked = Feedback.objects.select_for_update(of=("self",)).select_related("member__shop").get(pk=feedback.pk)
        if not staff_may(locked.member.shop, by, "feedback.view"):
            raise LoyaltyError(_("Only a manager or owner can reply to feedback."), code=Code.NOT_ALLOWED)
        if locked.replied_at is not None:
            raise LoyaltyError(_("This feedback has been answered already."), code=Code.ALREADY_REPLIED)
        if not can_reply(locked):
            raise LoyaltyError(_("There is no e-mail address to send a reply to."), code=Code.NO_EMAIL)
        context = {
            "reply": text, "rating": locked.rating, "comment": locked.comment, "given_on": locked.day.isoformat(),
        }  # fmt: skip
        message = message_queue(
            member=locked.member, campaign=REPLY, occasion=str(locked.public_id), template=REPLY_TEMPLATE,
            kind=Message.Kind.TRANSACTIONAL, context=context,
        )  # fmt: skip
        if message is None:  # the outbox has this answer's reply already
            raise LoyaltyError(_("This feedback has been answered already."), code=Code.ALREADY_REPLIED)
        Feedback.objects.filter(pk=locked.pk).update(reply=text, replied_at=now, replied_by=by)
        locked.reply, locked.replied_at, locked.replied_by = text, now, by
    return locked


def forget(member: Member) -> None:
    """An erased member's words go (what they wrote and what the shop wrote back); the rating stays in
    the shop's figures, naming nobody."""
    Feedback.objects.filter(member=member).update(comment="", reply="")


def merged(*, kept: Member, merged: Member) -> dict:
    """Two records of one person made one: the merged record's answers go to the kept one, so a reply
    reaches the person (an answer of a day the kept record answered too stays behind: one a day)."""
    days = Feedback.objects.filter(member=kept).values("day")
    moved = list(Feedback.objects.filter(member=merged).exclude(day__in=days).values_list("pk", flat=True))
    Feedback.objects.filter(pk__in=moved).update(member=kept)
    return {"feedback": moved}


def unmerged(*, kept: Member, merged: Member, moved: dict) -> None:
    Feedback.objects.filter(pk__in=moved.get("feedback", []), member=kept).update(member=merged)
