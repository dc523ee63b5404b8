"""Resolve the shop of a request and check the user's role there, once."""

import uuid
from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.utils import timezone

from .models import Member, Shop, StaffMember, User
from .roles import PERMISSIONS, role_has


def shop_view(permission: str):
    """Decorate a view under ``/s/<shop_slug>/``.

    Sets ``request.shop`` and ``request.membership``. A shop that does not
    exist and a shop the user has no role at are the same 404, so nobody can
    learn which shops exist; a role too low inside the shop is a 403.
    """
    if permission not in PERMISSIONS:
        raise ValueError(f"Unknown permission {permission!r}")

    def decorator(view):
        @wraps(view)
        def wrapper(request, shop_slug, *args, **kwargs):
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            membership = (
                StaffMember.objects.select_related("shop").filter(shop__slug=shop_slug, user=request.user).first()
            )
            if membership is None:
                raise Http404("No such shop.")
            if not role_has(membership.role, permission):
                raise PermissionDenied
            request.shop = membership.shop
            request.membership = membership
            # Times on shop pages are the shop's local times.
            with timezone.override(membership.shop.tz):
                return view(request, *args, **kwargs)

        # Read by the test that walks every shop URL.
        wrapper.shop_permission = permission
        return wrapper

    return decorator


def staff_may(shop: Shop, user: User, permission: str) -> bool:
    """Whether ``user``'s role at ``shop`` has ``permission``: what services check before acting."""
    role = StaffMember.objects.filter(shop=shop, user=user).values_list("role", flat=True).first()
    return role is not None and role_has(role, permission)


def shop_member_or_404(request, member_id):
    """A member of the request's shop, or 404: never another shop's member."""
    try:
        return request.shop.members.select_related("tier").get(public_id=member_id)
    except Member.DoesNotExist:
        raise Http404 from None


def uuid_or_none(value: str | None) -> uuid.UUID | None:
    """A UUID from a form field, or None for anything else (never a 500 on bad input)."""
    try:
        return uuid.UUID(value or "")
    except ValueError:
        return None
