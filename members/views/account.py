"""A customer's own account (signed in with a code sent to their e-mail): their name, language and
birthday, news and offers per shop, leaving a shop, and deleting the account. Every shop they joined
with the account's address is theirs here; nobody else's is."""

from datetime import timedelta

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from .. import services
from ..errors import LoyaltyError
from ..forms import ProfileForm
from ..models import AuditEntry, Member, StaffMember


def _memberships(user):
    return Member.objects.filter(user=user).select_related("shop").order_by("shop__name", "pk")


def _own_member(request, member_id) -> Member:
    member = _memberships(request.user).filter(public_id=member_id).first()
    if member is None:
        raise Http404
    return member


@login_required
@require_http_methods(["GET", "POST"])
def account(request):
    memberships = list(_memberships(request.user))
    first = memberships[0] if memberships else None
    birthday_open = any(member.birthday is None for member in memberships)
    initial = {"name": first.name if first else request.user.first_name, "language": first.language if first else ""}
    form = ProfileForm(request.POST or None, initial=initial, birthday_open=birthday_open)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        services.customer_update(user=request.user, name=data["name"], language=data["language"])
        if data.get("birthday"):
            services.birthday_set_once(user=request.user, birthday=data["birthday"])
        messages.success(request, _("Saved."))
        return redirect("members:account")
    context = {
        "form": form,
        "memberships": memberships,
        "works_at_a_shop": StaffMember.objects.filter(user=request.user).exists(),
        "download": request.user.data_downloads.first(),
        "download_days": settings.DATA_DOWNLOAD_DAYS,
    }
    return render(request, "members/account.html", context, status=400 if form.errors else 200)


@login_required
@require_POST
def account_consent(request, member_id):
    member = _own_member(request, member_id)
    services.consent_set(member=member, agreed=request.POST.get("agreed") == "1")
    messages.success(request, _("Saved."))
    return redirect("members:account")


@login_required
@require_http_methods(["GET", "POST"])
def account_leave(request, member_id):
    """Leave one shop: the same erasure an owner does at a member's request, recorded without a name."""
    member = _own_member(request, member_id)
    if request.method == "POST" and request.POST.get("confirm") == "1":
        services.member_erase(member=member, by=None, action=AuditEntry.Action.MEMBER_LEFT)
        messages.success(request, _("You left %(shop)s. Your personal data there was erased.") % {"shop": member.shop})
        return redirect("members:account")
    return render(request, "members/account_leave.html", {"member": member})


@login_required
@require_http_methods(["GET", "POST"])
def account_delete(request):
    memberships = list(_memberships(request.user))
    if request.method == "POST" and request.POST.get("confirm") == "1":
        try:
            services.account_delete(user=request.user)
        except LoyaltyError as error:
            messages.error(request, error.message)
            return redirect("members:account")
        logout(request)
        messages.success(request, _("Your account was deleted and your personal data erased at every shop."))
        return redirect("members:home")
    return render(request, "members/account_delete.html", {"memberships": memberships})


@login_required
@require_POST
def data_request(request):
    """Ask for a copy of my data: the worker prepares it and e-mails the link."""
    try:
        services.data_download_request(user=request.user, language=translation.get_language())
        messages.success(request, _("We are preparing a copy of your data and will e-mail you the link."))
    except LoyaltyError as error:
        messages.error(request, error.message)
    return redirect("members:account")


@login_required
@require_GET
def data_download(request, download_id):
    """The archive itself, for the account that asked for it and while its days last."""
    download = request.user.data_downloads.filter(public_id=download_id, ready_at__isnull=False).first()
    if download is None or download.ready_at < timezone.now() - timedelta(days=settings.DATA_DOWNLOAD_DAYS):
        return render(request, "members/data_gone.html", status=410 if download else 404)
    name = f"my-data-{download.ready_at:%Y-%m-%d}.zip"
    return FileResponse(default_storage.open(download.file, "rb"), as_attachment=True, filename=name)
