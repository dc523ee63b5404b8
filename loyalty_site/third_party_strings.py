"""Strings of django-allauth and Django that read awkwardly in Chinese, marked here so the project's
catalogs (which win over the libraries' own) carry better translations: polite 您 throughout, Chinese
punctuation, plain words for the sign-in code. Nothing calls this; ``makemessages`` reads it."""

# ruff: noqa: E501 - a msgid must match the library's exactly, so long ones stay on one line.

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
        # allauth's e-mail management, password change, re-authentication and account e-mails: the
        # libraries' catalogs mix "Email" into Simplified Chinese and 帳戶 with 帳號 in Traditional.
        gettext_noop("Email"),
        gettext_noop("This account is inactive."),
        gettext_noop("Confirm Access"),
        gettext_noop("Failed to mark {email} as verified."),
        gettext_noop("Email (again)"),
        gettext_noop("New Password (again)"),
        gettext_noop("We've sent a code to %(recipient)s. The code expires shortly, so please enter it soon."),
        gettext_noop("Primary"),
        gettext_noop("Make Primary"),
        gettext_noop("Re-send Verification"),
        gettext_noop("Add Email Address"),
        gettext_noop("Add Email"),
        gettext_noop(
            "You are receiving this email because you or someone else tried to signup for an\naccount using email address:\n\n%(email)s\n\nHowever, an account using that email address already exists.  In case you have\nforgotten about this, please use the password forgotten procedure to recover\nyour account:\n\n%(password_reset_url)s"
        ),
        gettext_noop("Hello from %(site_name)s!"),
        gettext_noop("Thank you for using %(site_name)s!\n%(site_domain)s"),
        gettext_noop(
            "If you do not recognize this change then please take proper security precautions immediately. The change to your account originates from:\n\n- IP address: %(ip)s\n- Browser: %(user_agent)s\n- Date: %(timestamp)s"
        ),
        gettext_noop("Your email has been changed from %(from_email)s to %(to_email)s."),
        gettext_noop(
            "You're receiving this email because user %(user_display)s has given your email address to register an account on %(site_domain)s."
        ),
        gettext_noop("To confirm this is correct, go to %(activate_url)s"),
        gettext_noop("Email address %(deleted_email)s has been removed from your account."),
        gettext_noop(
            "You're receiving this email because you or someone else has requested a password reset for your user account.\nIt can be safely ignored if you did not request a password reset. Click the link below to reset your password."
        ),
        gettext_noop(
            "You are receiving this email because you, or someone else, tried to access an account with email %(email)s. However, we do not have any record of such an account in our database."
        ),
        gettext_noop("Unknown Account"),
        gettext_noop(
            'Please confirm that <a href="mailto:%(email)s">%(email)s</a> is an email address for user %(user_display)s.'
        ),
        gettext_noop("Unable to confirm %(email)s because it is already confirmed by a different account."),
        gettext_noop(
            'This email confirmation link expired or is invalid. Please <a href="%(email_url)s">issue a new email confirmation request</a>.'
        ),
        gettext_noop("Send me a sign-in code"),
        gettext_noop("You cannot remove your primary email address (%(email)s)."),
        gettext_noop("Confirmation email sent to %(email)s."),
        gettext_noop("You have confirmed %(email)s."),
        gettext_noop("Removed email address %(email)s."),
        gettext_noop("Successfully signed in as %(name)s."),
        gettext_noop("A sign-in code has been sent to %(recipient)s."),
        gettext_noop("Primary email address set."),
        gettext_noop(
            "We have sent you an email. If you have not received it please check your spam folder. Otherwise contact us if you do not receive it in a few minutes."
        ),
        gettext_noop(
            'The password reset link was invalid, possibly because it has already been used.  Please request a <a href="%(passwd_reset_url)s">new password reset</a>.'
        ),
        gettext_noop("You are already logged in as %(user_display)s."),
        gettext_noop('<strong>Note:</strong> you can still <a href="%(email_url)s">change your email address</a>.'),
        gettext_noop("You cannot remove your primary email address."),
        gettext_noop("Accounts"),
        gettext_noop("Please reauthenticate to safeguard your account."),
        gettext_noop("Email Addresses"),
        gettext_noop("The following email addresses are associated with your account:"),
        gettext_noop("Do you really want to remove the selected email address?"),
        gettext_noop("Account Already Exists"),
        gettext_noop("You are receiving this mail because the following change was made to your account:"),
        gettext_noop("Email Changed"),
        gettext_noop("Your email has been confirmed."),
        gettext_noop("Email Confirmation"),
        gettext_noop("Please Confirm Your Email Address"),
        gettext_noop("Email Removed"),
        gettext_noop("Your password has been changed."),
        gettext_noop("If it was you, you can sign up for an account using the link below."),
        gettext_noop("Email Address"),
        gettext_noop("Current email"),
        gettext_noop("Change Email"),
        gettext_noop("Confirm Email Address"),
        gettext_noop("Your password is now changed."),
        gettext_noop("Enter your password:"),
        gettext_noop("Verify Your Email Address"),
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
