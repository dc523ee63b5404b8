"""A new shop's first day: the owner's checklist on the shop's home until every step is done.

Each app registers its own steps (``register`` in its AppConfig.ready) with how to tell one is done,
so this module knows no app above it. A step found done is kept (``SetupStep``) and never asked
again; once all are kept, the checklist costs one query and shows nothing.
"""

from collections.abc import Callable
from dataclasses import dataclass

from django.db import IntegrityError, transaction

from .models import SetupStep, Shop


@dataclass(frozen=True)
class Step:
    key: str
    label: str  # lazily translated
    url_name: str  # a shop page: reversed with the shop's slug
    order: int
    # How to tell the step is done when nothing recorded it; None: only ``record`` marks it.
    done: Callable[[Shop], bool] | None = None


STEPS: dict[str, Step] = {}


def register(step: Step) -> None:
    STEPS[step.key] = step


def record(shop: Shop, key: str) -> None:
    """Mark a step done (the poster downloaded, the card saved); again is harmless."""
    try:
        with transaction.atomic():
            SetupStep.objects.get_or_create(shop=shop, step=key)
    except IntegrityError:
        pass  # a twin request recorded it first


@dataclass
class Item:
    step: Step
    done: bool


def checklist(shop: Shop) -> list[Item]:
    """The steps in order, each done or not; empty once every step is done."""
    kept = set(shop.setup_steps.values_list("step", flat=True))
    if kept >= STEPS.keys():
        return []
    items = []
    for step in sorted(STEPS.values(), key=lambda s: s.order):
        done = step.key in kept
        if not done and step.done is not None and step.done(shop):
            record(shop, step.key)
            done = True
        items.append(Item(step, done))
    return [] if all(item.done for item in items) else items
