from django.conf import settings
from django.utils import translation
from django.utils.translation.trans_real import parse_accept_lang_header


def _browser_language(request) -> str | None:
    """The first language of the browser's Accept-Language that the portal speaks (zh-TW and zh-HK
    are Traditional Chinese, zh-CN Simplified), or None when it speaks none of them."""
    for code, _quality in parse_accept_lang_header(request.headers.get("accept-language", "")):
        if code == "*":
            break
        try:
            return translation.get_supported_language_variant(code)
        except LookupError:
            continue
    return None


def activate_customer_language(request, shop, member=None) -> str:
    """Show a page for customers in their language: the one they chose with the language switcher,
    else the one they chose when joining (their card, their unsubscribe page), else their browser's,
    else the shop's. Messages shown on the page are made in the same language."""
    language = None
    if settings.LANGUAGE_COOKIE_NAME in request.COOKIES:
        language = translation.get_language_from_request(request)
    if language is None and member is not None and member.language:
        language = member.language
    language = language or _browser_language(request) or shop.language
    translation.activate(language)
    request.LANGUAGE_CODE = translation.get_language()
    return request.LANGUAGE_CODE
