"""A shop's settings (cards, points rule, tiers, catalogue, running multipliers) read once per change,
not once per request.

Every shop row carries ``config_key``, a fresh random value each time any of its settings changes;
the counter loads the shop row anyway, so a process knows for free whether what it holds is still
the shop's current settings. What it holds lives in this process only (a few shops' worth, least
recently used first out), so nothing has to be told to other processes or servers: they see the
new key on their next request. A key is random rather than counted so that a change rolled back
can never come back as a later, different change under the same key.

A model whose rows are settings calls ``watch`` once (in its app's ``ready``): saving or deleting a
row then changes its shop's key in the same transaction. A bulk ``update()`` sends no signal, so
code that changes settings that way calls ``config_changed`` itself.

What this hands out is shared by every request of the process: read it, never change it.
"""

import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable
from typing import TypeVar

from django.db.models.signals import post_delete, post_save

from .models import Shop

T = TypeVar("T")

# Shops whose settings a process keeps: the busiest ones of a fleet; each is a few kilobytes.
MAX_SHOPS = 512
_held: OrderedDict[tuple[str, int], tuple[uuid.UUID, object]] = OrderedDict()
_lock = threading.Lock()  # threaded servers (runserver, gunicorn's gthread) share _held


def shop_cached(shop: Shop, name: str, build: Callable[[Shop], T]) -> T:
    """``build(shop)``, or what it returned earlier for the shop's current settings."""
    key = (name, shop.pk)
    with _lock:
        held = _held.get(key)
        if held is not None and held[0] == shop.config_key:
            _held.move_to_end(key)
            return held[1]
    value = build(shop)  # outside the lock: it queries the database
    with _lock:
        _held[key] = (shop.config_key, value)
        _held.move_to_end(key)
        while len(_held) > MAX_SHOPS * 4:
            _held.popitem(last=False)
    return value


def config_changed(shop_id: int) -> uuid.UUID:
    """The shop's settings changed: every process reads them again on its next request, and this
    one at once, even for a shop row it loaded before the change. Returns the new key."""
    new_key = uuid.uuid4()
    Shop.objects.filter(pk=shop_id).update(config_key=new_key)
    with _lock:
        for key in [key for key in _held if key[1] == shop_id]:
            del _held[key]
    return new_key


def forget() -> None:
    """Drop everything held (tests start each case clean)."""
    with _lock:
        _held.clear()


def _changed(sender, instance, **kwargs) -> None:
    new_key = config_changed(instance.shop_id)
    # The shop row the caller holds takes the new key too: what it reads next in this transaction
    # is held under a key that a rollback makes sure nobody ever asks for.
    if instance._meta.get_field("shop").is_cached(instance):
        instance.shop.config_key = new_key


def watch(model) -> None:
    """Saving or deleting a row of ``model`` (which has a ``shop``) changes its shop's settings key."""
    uid = f"members.config.{model._meta.label}"
    post_save.connect(_changed, sender=model, dispatch_uid=uid)
    post_delete.connect(_changed, sender=model, dispatch_uid=uid)
