"""How many examples a property test tries: the count written in the test under a profile of 100
examples (hypothesis's default and its ``ci`` profile: ``make test``), the same share of that count as
the loaded profile's ``max_examples`` is of 100 otherwise (``make test-fast`` loads ``fast``, registered
in tests/conftest.py: a quarter)."""

from __future__ import annotations

from hypothesis import settings

#: The ``max_examples`` under which every property test tries exactly the count written in it.
FULL_TIER_MAX_EXAMPLES = 100
#: No property test tries fewer, whatever the profile.
MIN_EXAMPLES = 10


def examples(full_tier_count: int) -> int:
    """``full_tier_count`` scaled by the loaded profile (read when the test module is imported, after
    pytest has loaded ``--hypothesis-profile``)."""
    share = settings.default.max_examples / FULL_TIER_MAX_EXAMPLES
    return max(MIN_EXAMPLES, round(full_tier_count * share))
