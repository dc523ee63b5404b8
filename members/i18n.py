from django.conf import settings
from django.utils import translation


def activate_shop_language(request, shop) -> None:
    """Show a shop's public page in the shop's language.

    An explicit choice made with the language switcher (the language cookie)
    wins; otherwise the shop's language beats the browser's Accept-Language,
    because the shop knows its customers better than a borrowed phone does.
    """
    if settings.LANGUAGE_COOKIE_NAME in request.COOKIES:
        return
    translation.activate(shop.language)
    request.LANGUAGE_CODE = translation.get_language()
