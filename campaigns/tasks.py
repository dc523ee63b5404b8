from celery import shared_task

from . import services
from .events import services as events
from .insights import rollup

# Beat runs these every hour (announcements every few minutes): each shop's
# day starts at its own midnight, and a run that finds nothing new does nothing.


@shared_task(acks_late=True)
def run_birthdays() -> int:
    return services.birthdays_run()


@shared_task(acks_late=True)
def run_anniversaries() -> int:
    return services.anniversaries_run()


@shared_task(acks_late=True)
def run_winback() -> int:
    return services.winback_run()


@shared_task(acks_late=True)
def send_announcements() -> int:
    return services.announcements_run()


@shared_task(acks_late=True)
def remind_expiring_vouchers() -> int:
    return services.voucher_reminders_run()


@shared_task(acks_late=True)
def refresh_figures() -> int:
    """Every 15 minutes: the figures of campaigns that can still change."""
    return services.figures_refresh_due()


@shared_task(acks_late=True)
def roll_up_days() -> int:
    """Hourly: each shop whose yesterday (in its own time zone) is not counted yet gets its nightly
    insights run. Running it twice counts the same days to the same rows."""
    return rollup.run_due()


@shared_task(acks_late=True)
def run_events() -> int:
    """Hourly: the day-before reminders (each shop's own day and daytime), and what a lost task did
    not send (invitations, a seat come free, a cancellation)."""
    return events.events_run()


@shared_task(acks_late=True)
def invite_to_event(event_id: int) -> int:
    """The owner sent an event's invitations: its audience is e-mailed, once each."""
    return events.event_invite(event_id=event_id)


@shared_task(acks_late=True)
def tell_about_event(event_id: int) -> int:
    """A seat came free for someone waiting, or the event was cancelled: those concerned are told."""
    return events.event_tell(event_id=event_id)
