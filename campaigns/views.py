from django.db import transaction
from django.http import Http404
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from members.i18n import activate_shop_language
from members.models import Member

from .outbox import member_from_unsubscribe_token


# The signed token is the authorisation, and mail clients' one-click
# unsubscribe (RFC 8058) posts without a session or a CSRF cookie.
@csrf_exempt
@require_http_methods(["GET", "POST"])
def unsubscribe(request, token):
    member = member_from_unsubscribe_token(token)
    if member is None:
        raise Http404
    activate_shop_language(request, member.shop)
    done = False
    if request.method == "POST":
        with transaction.atomic():
            Member.objects.filter(pk=member.pk).update(marketing_consent=False, consent_at=timezone.now())
        done = True
    return render(request, "campaigns/unsubscribe.html", {"public_shop": member.shop, "done": done})
