"""The outbox: work that leaves the transaction (e-mail, LINE, Celery tasks) happens only after it commits.

- ``message_queue`` adds a message row in the caller's transaction and asks a
  worker to send it once the transaction commits. If the broker is down, the
  event still succeeds; ``outbox_flush`` (beat, every minute) sends what waits.
- ``message_send`` claims the row with a conditional update before sending,
  so two workers, a retry and the flush can never send it twice. A worker that
  dies mid-send leaves the row 'sending'; after a while the flush marks it
  failed instead of guessing, because resending could mean a duplicate.
- A message goes on LINE instead of by e-mail when the shop has connected its LINE official
  account and the member's card is linked to a LINE account that follows it (``line.reachable``);
  consent is the same either way. LINE takes a message at most once per retry key (the message's
  id), so a timeout that is tried again never shows it twice. A member who unfollows before it
  leaves gets it by e-mail when they have an address.
- ``enqueue`` is the one way any app asks for a task after the commit: by the
  task's name, so no service imports the tasks that call it, and a broker that
  is down costs a log line, never the request (the beat catches up).

Every app may use it: it sits with the members it writes to, at the bottom.
"""

import logging
import re
from datetime import timedelta

from celery import current_app
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from . import line
from .emails import render_branded_text, send_branded_email
from .models import INTERRUPTED, LineChannel, Member, Message
from .tokens import unsubscribe_url

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
STUCK_AFTER = timedelta(minutes=30)
SEND_TASK = "members.tasks.send_message"


def enqueue(task_name: str, *args) -> None:
    """Run a Celery task once the current transaction commits (at once outside one)."""
    transaction.on_commit(lambda: _delay(task_name, *args))


def _delay(task_name: str, *args) -> None:
    if task_name not in current_app.tasks:
        # A web process imports an app's tasks module only when asked: find every app's tasks once.
        current_app.loader.import_default_modules()
    task = current_app.tasks[task_name]  # a name that is no task fails loudly, in tests first
    try:
        task.delay(*args)
    except Exception:
        arguments = ", ".join(map(str, args))
        logger.warning("Broker unavailable; %s(%s) not queued, the beat will catch up", task_name, arguments)


def message_queue(
    *, member: Member, campaign: str, occasion: str, template: str, kind: str, context: dict | None = None
) -> Message | None:
    """Queue one message; None when there is nothing to send (no address, no consent, already queued)."""
    if kind == Message.Kind.MARKETING and not member.marketing_consent:
        return None
    to_line = line.reachable(member)
    if not member.email and not to_line:
        return None
    try:
        with transaction.atomic():
            message = Message.objects.create(
                shop_id=member.shop_id,
                member=member,
                campaign=campaign,
                occasion=occasion,
                template=template,
                kind=kind,
                context=context or {},
                channel=Message.Channel.LINE if to_line else Message.Channel.EMAIL,
                to_email=member.email,
                to_line=to_line,
            )
    except IntegrityError:
        return None  # this campaign already wrote to this member for this occasion
    enqueue(SEND_TASK, message.pk)
    return message


def message_send(message_id: int, *, now=None) -> bool:
    """Send one message if it is due and nobody else has claimed it. True when sent now."""
    now = now or timezone.now()
    claimed = Message.objects.filter(
        pk=message_id, status__in=[Message.Status.PENDING, Message.Status.FAILED], next_attempt_at__lte=now,
        attempts__lt=MAX_ATTEMPTS,
    ).update(status=Message.Status.SENDING, attempts=F("attempts") + 1, next_attempt_at=now)  # fmt: skip
    if claimed != 1:
        return False
    message = Message.objects.select_related("member__shop").get(pk=message_id)
    member = message.member
    try:
        # Inside the try: whatever fails before the mail leaves is recorded as this message's error.
        context = {**message.context, "member": member, "shop": member.shop}
        headers = {}
        if message.kind == Message.Kind.MARKETING:
            context["unsubscribe_url"] = unsubscribe_url(member)
            headers = {
                "List-Unsubscribe": f"<{context['unsubscribe_url']}>",
                "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            }
        if message.channel != Message.Channel.LINE or not _sent_on_line(message, context):
            send_branded_email(
                message.template, context, to=message.to_email, language=member.language, headers=headers
            )
    except Exception as error:
        delay = timedelta(minutes=2**message.attempts)
        Message.objects.filter(pk=message_id).update(
            status=Message.Status.FAILED, last_error=str(error)[:1000], next_attempt_at=now + delay
        )
        return False
    Message.objects.filter(pk=message_id).update(status=Message.Status.SENT, sent_at=timezone.now(), last_error="")
    return True


def _sent_on_line(message: Message, context: dict) -> bool:
    """The e-mail's plain words as one LINE text: the subject, then the body (which for news ends
    with how to stop them). False when it must go by e-mail instead: the member unfollowed, or the
    shop disconnected LINE, since it was queued."""
    channel = LineChannel.objects.filter(shop_id=message.shop_id).first()
    following = message.member.line_followers.filter(line_user_id=message.to_line, following=True).exists()
    if channel is None or not following:
        if not message.to_email:
            raise line.PushFailed("The member no longer follows the shop on LINE and has no e-mail address.")
        Message.objects.filter(pk=message.pk).update(channel=Message.Channel.EMAIL)
        return False
    subject, text = render_branded_text(message.template, context, language=message.member.language)
    text = re.sub(r"\n{3,}", "\n\n", f"{subject}\n\n{text.strip()}")  # a plain-text e-mail's gaps are wide
    line.push(channel, message.to_line, text, retry_key=str(message.public_id))
    return True


def outbox_flush(*, now=None) -> int:
    """Beat: send what waits (broker was down, or a retry is due); give up on stuck sends."""
    now = now or timezone.now()
    Message.objects.filter(status=Message.Status.SENDING, next_attempt_at__lte=now - STUCK_AFTER).update(
        status=Message.Status.FAILED,
        attempts=MAX_ATTEMPTS,
        last_error=INTERRUPTED,
    )
    due = Message.objects.filter(
        status__in=[Message.Status.PENDING, Message.Status.FAILED], next_attempt_at__lte=now, attempts__lt=MAX_ATTEMPTS
    ).values_list("pk", flat=True)
    return sum(message_send(pk, now=now) for pk in list(due[:500]))


def message_retry(*, message_id: int) -> bool:
    """The owner asks for a failed message to go again: a fresh set of attempts, due now."""
    with transaction.atomic():
        failed = Message.objects.filter(pk=message_id, status=Message.Status.FAILED, member__erased_at__isnull=True)
        retried = failed.update(attempts=0, next_attempt_at=timezone.now())
    if retried:
        enqueue(SEND_TASK, message_id)
    return bool(retried)
