from django.conf import settings
from django.utils.functional import SimpleLazyObject

from .models import StaffMember


def portal(request):
    """The signed-in user's shops for the switcher; queried only if a page shows it."""

    def my_roles():
        if not request.user.is_authenticated:
            return []
        return list(StaffMember.objects.filter(user=request.user).select_related("shop").order_by("shop__name"))

    return {
        "my_roles": SimpleLazyObject(my_roles),
        "shop": getattr(request, "shop", None),
        "membership": getattr(request, "membership", None),
        # The AGPL asks whoever runs a changed copy to offer its source to the people using it.
        "source_url": settings.SOURCE_URL,
    }
