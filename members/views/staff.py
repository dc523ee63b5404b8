from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from .. import services
from ..errors import LoyaltyError
from ..forms import InviteForm, RoleForm
from ..models import StaffMember
from ..roles import Role, permission_table
from ..tenancy import shop_view


def _render_staff(request, *, invite_form=None, status=200):
    shop = request.shop
    context = {
        "staff": shop.staff.select_related("user").order_by("user__email"),
        "invitations": shop.invitations.select_related("invited_by", "requested_by"),
        "invite_form": invite_form or InviteForm(),
        "roles": [Role.STAFF, Role.MANAGER, Role.OWNER],
        "permissions": permission_table(),
    }
    template = "members/staff.html"
    if request.htmx:
        template += "#team"
    return render(request, template, context, status=status)


@shop_view("staff.manage")
@require_GET
def staff_list(request):
    return _render_staff(request)


@shop_view("staff.manage")
@require_POST
def staff_invite(request):
    form = InviteForm(request.POST)
    if not form.is_valid():
        return _render_staff(request, invite_form=form, status=400)
    try:
        invitation = services.staff_invite(shop=request.shop, invited_by=request.user, **form.cleaned_data)
    except LoyaltyError as error:
        form.add_error("email", error.message)
        return _render_staff(request, invite_form=form, status=400)
    messages.success(request, _("Invitation sent to %(email)s.") % {"email": invitation.email})
    return _staff_page_after_change(request)


def _staff_page_after_change(request):
    """HTMX swaps the team in place; a plain form post follows a redirect (POST/redirect/GET)."""
    if request.htmx:
        return _render_staff(request)
    return redirect("members:staff_list", shop_slug=request.shop.slug)


def _staff_or_404(request, staff_id) -> StaffMember:
    try:
        return request.shop.staff.get(public_id=staff_id)
    except StaffMember.DoesNotExist:
        raise Http404 from None


@shop_view("staff.manage")
@require_POST
def staff_role(request, staff_id):
    staff = _staff_or_404(request, staff_id)
    form = RoleForm(request.POST, instance=staff)
    if not form.is_valid():
        messages.error(request, _("Choose one of the roles in the list."))
    else:
        try:
            services.staff_change_role(shop=request.shop, staff_id=staff.public_id, role=form.cleaned_data["role"])
            messages.success(request, _("Role updated."))
        except LoyaltyError as error:
            messages.error(request, error.message)
    return _staff_page_after_change(request)


@shop_view("staff.manage")
@require_POST
def staff_remove(request, staff_id):
    staff = _staff_or_404(request, staff_id)
    try:
        services.staff_remove(shop=request.shop, staff_id=staff.public_id)
        messages.success(request, _("%(name)s no longer works at this shop.") % {"name": staff.user})
    except LoyaltyError as error:
        messages.error(request, error.message)
    if staff.user_id == request.user.id and not request.shop.staff.filter(user=request.user).exists():
        return redirect("members:home")
    return _staff_page_after_change(request)


@shop_view("staff.manage")
@require_POST
def invitation_revoke(request, invitation_id):
    if not request.shop.invitations.filter(id=invitation_id).exists():
        raise Http404
    services.invitation_revoke(shop=request.shop, invitation_id=invitation_id)
    messages.success(request, _("Invitation withdrawn."))
    return _staff_page_after_change(request)


@shop_view("staff.manage")
@require_POST
def invitation_confirm(request, invitation_id):
    """The owner vouches for the account that opened the invitation under another address."""
    if not request.shop.invitations.filter(id=invitation_id).exists():
        raise Http404
    try:
        invitation = services.invitation_confirm(shop=request.shop, invitation_id=invitation_id)
    except LoyaltyError as error:
        messages.error(request, error.message)
    else:
        messages.success(
            request, _("%(email)s may now accept the invitation.") % {"email": invitation.requested_by.email}
        )
    return _staff_page_after_change(request)
