"""Strict templates under test: a variable or filter argument that cannot be
resolved in one of the portal's own templates fails the test that rendered it.

Django calls ``string_if_invalid % name`` for a variable it cannot resolve;
production keeps the default empty string (lenient), tests install
``StrictInvalid``. Third-party templates (the admin, allauth's own) are left
lenient: they rely on missing variables by design.
"""

import sys

from django.template import TemplateSyntaxError
from django.template.base import Node


def rendering_origin():
    """The template of the node being rendered, read off the call stack."""
    frame = sys._getframe(2)
    while frame is not None:
        node = frame.f_locals.get("self")
        if isinstance(node, Node) and getattr(node, "origin", None) is not None:
            return node.origin
        frame = frame.f_back
    return None


def is_ours(origin) -> bool:
    """Any template that is not an installed package's: the portal's own, and
    those a test builds from a string."""
    name = str(origin.name)
    return "site-packages" not in name and "dist-packages" not in name


class UnresolvedVariable(TemplateSyntaxError):
    pass


class StrictInvalid(str):
    """``string_if_invalid`` that raises for the portal's templates.

    Its text is empty. Django only uses ``string_if_invalid`` when it is
    truthy, and otherwise renders the empty string and goes on applying
    filters (``|default``): so it is truthy inside the portal's templates,
    which makes Django call ``__mod__``, and falsy elsewhere, which keeps
    Django's lenient behaviour exactly."""

    def __bool__(self):
        origin = rendering_origin()
        return origin is not None and is_ours(origin)

    def __contains__(self, item):
        # Django checks for "%s" before calling __mod__ with the variable's name.
        return item == "%s"

    def __mod__(self, name):
        origin = rendering_origin()
        if origin is not None and is_ours(origin):
            raise UnresolvedVariable(f"{origin.name}: cannot resolve {name!r}")
        return ""
