"""The accessibility check itself: it must fail on a page that breaks the rules."""

import pytest


def test_axe_catches_a_violation(page, assert_accessible):
    page.set_content("<html lang='en'><body><main><img src='x.png'><input></main></body></html>")
    with pytest.raises(AssertionError, match="image-alt"):
        assert_accessible(page, "sanity")
