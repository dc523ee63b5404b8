"""Resolve the shop of a request and check the user's role there, once."""

import uuid
from functools import wraps

from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, load_backend
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.utils import timezone
from django.utils.crypto import constant_time_compare

from . import two_factor
from .models import Member, Shop, StaffMember, User
from .roles import PERMISSIONS, role_has


def shop_view(permission: str):
    """Decorate a view under ``/s/<shop_slug>/``.

    Sets ``request.shop`` and ``request.membership``. A shop that does not
    exist and a shop the user has no role at are the same 404, so nobody can
    learn which shops exist; a role too low inside the shop is a 403. At a shop that requires
    two-factor sign-in, a role that sees members' data is sent to set it up first.
    """
    if permission not in PERMISSIONS:
        raise ValueError(f"Unknown permission {permission!r}")

    def decorator(view):
        @wraps(view)
        def wrapper(request, shop_slug, *args, **kwargs):
            membership = _membership_with_user(request, shop_slug)
            if membership is None:
                if not request.user.is_authenticated:
                    return redirect_to_login(request.get_full_path())
                membership = (
                    StaffMember.objects.select_related("shop").filter(shop__slug=shop_slug, user=request.user).first()
                )
            if membership is None:
                raise Http404("No such shop.")
            if not role_has(membership.role, permission):
                raise PermissionDenied
            if two_factor.required(membership) and not two_factor.has_two_factor(request.user):
                # The shop asks whoever sees its members' data to sign in with a second step.
                return two_factor.send_to_setup(request, membership.shop)
            request.shop = membership.shop
            request.membership = membership
            # What staff_may would ask the database, for the services this request calls.
            request.user._role_at = (membership.shop_id, membership.role)
            # Times on shop pages are the shop's local times.
            with timezone.override(membership.shop.tz):
                return view(request, *args, **kwargs)

        # Read by the test that walks every shop URL.
        wrapper.shop_permission = permission
        return wrapper

    return decorator


def _membership_with_user(request, shop_slug: str) -> StaffMember | None:
    """The signed-in user's role at the shop and the user, in one query instead of two (every staff
    page asks for both). The user is accepted only as ``django.contrib.auth.get_user`` would accept
    them: a backend of ours logged them in, the account is active and the session's hash is the
    password's current one. Anything else (no role here, a changed password, a session signed with
    an older secret) returns None and goes the usual way, which logs out or redirects as it should."""
    if hasattr(request, "_cached_user"):
        return None  # the user is loaded already; nothing to save
    session = request.session
    backend_path = session.get(BACKEND_SESSION_KEY)
    if session.get(SESSION_KEY) is None or backend_path not in settings.AUTHENTICATION_BACKENDS:
        return None
    try:
        user_id = User._meta.pk.to_python(session[SESSION_KEY])
    except ValidationError:
        return None
    roles = StaffMember.objects.select_related("shop", "user")
    membership = roles.filter(shop__slug=shop_slug, user_id=user_id).first()
    if membership is None:
        return None
    user, backend = membership.user, load_backend(backend_path)
    if hasattr(backend, "user_can_authenticate") and not backend.user_can_authenticate(user):
        return None
    session_hash = session.get(HASH_SESSION_KEY)
    if not session_hash or not constant_time_compare(session_hash, user.get_session_auth_hash()):
        return None
    request._cached_user = user  # what AuthenticationMiddleware's lazy request.user returns
    return membership


def staff_may(shop: Shop, user: User, permission: str) -> bool:
    """Whether ``user``'s role at ``shop`` has ``permission``: what services check before acting.
    Within a shop page's request the role is known already (``shop_view``)."""
    known = getattr(user, "_role_at", None)
    if known is not None and known[0] == shop.pk:
        role = known[1]
    else:
        role = StaffMember.objects.filter(shop=shop, user=user).values_list("role", flat=True).first()
    return role is not None and role_has(role, permission)


def shop_member_or_404(request, member_id):
    """A member of the request's shop, or 404: never another shop's member."""
    try:
        return request.shop.members.select_related("tier", "enrolled_by").get(public_id=member_id)
    except Member.DoesNotExist:
        raise Http404 from None


def uuid_or_none(value: str | None) -> uuid.UUID | None:
    """A UUID from a form field, or None for anything else (never a 500 on bad input)."""
    try:
        return uuid.UUID(value or "")
    except ValueError:
        return None
