"""The outbox: work that leaves the transaction (e-mail, Celery tasks) happens only after it commits.

- ``message_queue`` adds a message row in the caller's transaction and asks a
  worker to send it once the transaction commits. If the broker is down, the
  event still succeeds; ``outbox_flush`` (beat, every minute) sends what waits.
- ``message_send`` claims the row with a conditional update before sending,
  so two workers, a retry and the flush can never send it twice. A worker that
  dies mid-send leaves the row 'sending'; after a while the flush marks it
  failed instead of guessing, because resending could mean a duplicate.
- ``enqueue`` is the one way any app asks for a task after the commit: by the
  task's name, so no service imports the tasks that call it, and a broker that
  is down costs a log line, never the request (the beat catches up).

Every app may use it: it sits with the members it writes to, at the bottom.
"""

import logging
from datetime import timedelta

from celery import current_app
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from .emails import send_branded_email
from .models import INTERRUPTED, Member, Message
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
    if not member.email:
        return None
    if kind == Message.Kind.MARKETING and not member.marketing_consent:
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
                to_email=member.email,
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
        send_branded_email(message.template, context, to=message.to_email, language=member.language, headers=headers)
    except Exception as error:
        delay = timedelta(minutes=2**message.attempts)
        Message.objects.filter(pk=message_id).update(
            status=Message.Status.FAILED, last_error=str(error)[:1000], next_attempt_at=now + delay
        )
        return False
    Message.objects.filter(pk=message_id).update(status=Message.Status.SENT, sent_at=timezone.now(), last_error="")
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
