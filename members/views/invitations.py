from allauth.account.models import EmailAddress
from django.contrib import messages
from django.contrib.auth import login
from django.db import transaction
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from .. import services
from ..errors import LoyaltyError
from ..forms import AcceptInvitationSignupForm
from ..i18n import activate_customer_language
from ..models import User
from ..tokens import invitation_from_token


@require_http_methods(["GET", "POST"])
def invitation(request, token):
    """Accept a staff invitation: as the signed-in user, or by creating an account."""
    invitation = invitation_from_token(token)
    if invitation is None:
        return render(request, "members/invitation_invalid.html", status=404)
    activate_customer_language(request, invitation.shop)

    existing_user = User.objects.filter(email__iexact=invitation.email).first()
    signup_form = None
    if not request.user.is_authenticated and existing_user is None:
        signup_form = AcceptInvitationSignupForm(request.POST or None, invitation=invitation)

    if request.method == "POST":
        user = request.user
        if user.is_authenticated and not invitation.is_for(user):
            if "ask" in request.POST:
                services.invitation_request(invitation=invitation, user=user)
                messages.success(request, _("Asked. Open this link again once the shop has confirmed your address."))
                return redirect(request.path)
            return render(request, "members/invitation.html", _context(invitation, None, user), status=403)
        if not user.is_authenticated:
            if signup_form is None:
                # The address has an account: it must sign in to accept.
                return redirect(f"{_login_url()}?next={request.path}")
            if not signup_form.is_valid():
                return render(
                    request, "members/invitation.html", _context(invitation, signup_form, request.user), status=400
                )
            user = _create_invited_user(invitation.email, signup_form.cleaned_data)
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        try:
            staff = services.invitation_accept(invitation=invitation, user=user)
        except LoyaltyError as error:
            messages.error(request, error.message)
            return redirect("members:home")
        messages.success(request, _("Welcome to %(shop)s.") % {"shop": staff.shop.name})
        return redirect("members:shop_home", shop_slug=staff.shop.slug)

    context = _context(invitation, signup_form, request.user)
    context["needs_login"] = not request.user.is_authenticated and existing_user is not None
    context["login_url"] = f"{_login_url()}?next={request.path}"
    return render(request, "members/invitation.html", context)


def _login_url() -> str:
    return reverse("account_login")


def _context(invitation, signup_form, user):
    return {
        "invitation": invitation,
        "invited_shop": invitation.shop,
        "signup_form": signup_form,
        # Signed in under another address: accepting needs the shop's confirmation.
        "other_address": user.is_authenticated and not invitation.is_for(user),
        "asked": user.is_authenticated and invitation.requested_by_id == user.pk,
    }


def _create_invited_user(email: str, data: dict) -> User:
    with transaction.atomic():
        user = User.objects.create_user(email=email, password=data["password1"], first_name=data["name"])
        # The link arrived at this address, so the address is proven.
        EmailAddress.objects.create(user=user, email=email, primary=True, verified=True)
    return user
