from celery import shared_task

from . import outbox


@shared_task(acks_late=True)
def send_message(message_id: int) -> bool:
    """Safe to run twice: only the run that claims the row sends it."""
    return outbox.message_send(message_id)


@shared_task(acks_late=True)
def flush_outbox() -> int:
    return outbox.outbox_flush()
