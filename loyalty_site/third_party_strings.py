"""Strings of django-allauth and Django that read awkwardly in Chinese, marked here so the project's
catalogs (which win over the libraries' own) carry better translations: polite 您 throughout, Chinese
punctuation, plain words for the sign-in code. Nothing calls this; ``makemessages`` reads it."""

from django.utils.translation import gettext_noop, ngettext


def _marked():  # pragma: no cover - for makemessages only
    return [
        # Django's form labels end in this; Simplified Chinese gets a full-width colon too.
        gettext_noop(":"),
        # allauth's sign-up, sign-in and code pages
        gettext_noop("Already have an account? Then please %(link)ssign in%(end_link)s."),
        gettext_noop("If you have not created an account yet, then please %(link)ssign up%(end_link)s first."),
        gettext_noop("Request Code"),
        gettext_noop("Other sign-in options"),
        gettext_noop("You will receive a special code for a password-free sign-in."),
        # Django's password rules, shown under the password field
        gettext_noop("Your password can’t be too similar to your other personal information."),
        ngettext(
            "Your password must contain at least %(min_length)d character.",
            "Your password must contain at least %(min_length)d characters.",
            8,
        ),
        gettext_noop("Your password can’t be a commonly used password."),
        gettext_noop("Your password can’t be entirely numeric."),
    ]
