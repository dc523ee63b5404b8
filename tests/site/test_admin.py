"""The Django admin on the demo café: every model is there for operators, and no loyalty state can be
edited in it (regression: an operator could edit a member's cached points and a voucher's status,
with no ledger row)."""

import re

import pytest
from django.apps import apps
from django.contrib import admin
from django.core.management import call_command
from django.db import transaction
from django.test import Client

from members.models import User

APPS = ("members", "rewards", "campaigns")
# What only services change. A model listed with None is a record: nothing in it is editable.
STATE = {
    "members.member": {"points", "tier", "tier_short_since", "last_visit_at", "joined_at", "referred_by",
                       "email_canonical"},
    "members.invitation": {"requested_by", "requester_confirmed"},
    "rewards.cataloguereward": {"stock"},
    "rewards.membercard": None,
    "rewards.voucher": None,
    "rewards.purchase": None,
    "rewards.ledgerentry": None,
    "rewards.pointsexpiryterms": None,
    "rewards.tierchange": None,
    "rewards.tiertrial": None,
    "rewards.membershipplan": None,
    "rewards.membership": None,
    "rewards.planpricechange": None,
    "rewards.cause": None,
    "rewards.menuitem": None,
    "rewards.itemsold": None,
    "rewards.contribution": None,
    "rewards.challenge": None,
    "rewards.challengecompletion": None,
    "rewards.leaderboardseat": None,
    "rewards.partneroffer": None,
    "rewards.partnerredemption": None,
    "rewards.walletpass": None,
    "rewards.walletdevice": None,
    "rewards.walletpush": None,
    "rewards.apikey": None,
    "rewards.apirequest": None,
    "campaigns.reach": None,
    "campaigns.referralrefusal": None,
    "campaigns.campaignfigures": None,
    "campaigns.shopday": None,
    "campaigns.staffday": None,
    "campaigns.rewardday": None,
    "campaigns.cohortmonth": None,
    "campaigns.memberactivity": None,
    "campaigns.feedback": None,
    "campaigns.event": None,
    "campaigns.eventseries": None,
    "campaigns.rsvp": None,
    "members.message": None,
    "members.setupstep": None,
    "members.auditentry": None,
    "members.datadownload": None,
    "members.memberimport": None,
    "members.membermerge": None,
    "members.shopexport": None,
    "members.linechannel": None,
    "members.linefollower": None,
    "members.linelinkcode": None,
    "members.webhookendpoint": None,
    "members.webhookdelivery": None,
    "members.webhookattempt": None,
    "loyalty_site.heartbeat": None,
}  # fmt: skip


@pytest.fixture(scope="module")
def operator(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock(), transaction.atomic():
        call_command("demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
        user = User.objects.create_superuser(email="ops@example.com", password="x")
        client = Client()
        client.force_login(user)
        yield client
        transaction.set_rollback(True)


def _models():
    return [m for m in apps.get_models() if m._meta.app_label in APPS]


def test_every_model_is_in_the_admin():
    missing = [m._meta.label for m in _models() if m not in admin.site._registry]
    assert not missing


def _editable(html: str) -> set[str]:
    form = html.split('id="content-main"', 1)[-1]
    fields = set(re.findall(r'<(?:input|select|textarea)[^>]*\bname="([^"]+)"', form))
    return {f for f in fields if not f.startswith(("csrfmiddlewaretoken", "_", "initial-"))}


@pytest.mark.parametrize("model", _models(), ids=lambda m: m._meta.label_lower)
def test_no_loyalty_state_is_editable(operator, model, db):
    label = model._meta.label_lower
    base = f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
    assert operator.get(base).status_code == 200
    obj = model._default_manager.order_by("pk").first()
    state = STATE.get(label, set())
    add = operator.get(base + "add/")
    if state is None:
        assert add.status_code == 403, f"{label}: records are added by services only"
    else:
        assert add.status_code == 200
        assert not (_editable(add.content.decode()) & state), label
    if obj is None:
        return
    change = operator.get(f"{base}{obj.pk}/change/")
    assert change.status_code == 200
    editable = _editable(change.content.decode())
    if state is None:
        assert not editable, f"{label}: {sorted(editable)} editable"
    else:
        assert not (editable & state), f"{label}: {sorted(editable & state)} editable"
