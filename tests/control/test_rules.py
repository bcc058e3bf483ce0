"""The voting rules, as pure functions: threshold on TOTAL members, two thirds, quorum, ties."""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from meetings.voting import decide, default_quorum, required_yes

pytestmark = pytest.mark.control


def test_more_than_half_of_total_members_not_of_those_present() -> None:
    # 30 members, 20 take part, 12 yes: a majority of those present but not of all members.
    d = decide(12, 8, 0, total_members=30)
    assert d.required == 16 and d.quorum_met and not d.passed
    assert decide(16, 4, 0, total_members=30).passed


def test_majority_boundaries() -> None:
    assert required_yes(10, "majority") == 6  # exactly half is not more than half
    assert required_yes(11, "majority") == 6
    assert required_yes(1, "majority") == 1
    assert not decide(5, 0, 5, total_members=10, quorum=0).passed
    assert decide(6, 0, 4, total_members=10).passed


def test_two_thirds() -> None:
    assert required_yes(30, "two_thirds") == 20
    assert required_yes(10, "two_thirds") == 7
    assert decide(20, 10, 0, total_members=30, threshold="two_thirds").passed
    assert not decide(19, 11, 0, total_members=30, threshold="two_thirds").passed


def test_tie_never_passes() -> None:
    d = decide(5, 5, 0, total_members=10)
    assert d.tie and not d.passed
    d = decide(15, 15, 0, total_members=30, threshold="two_thirds")
    assert d.tie and not d.passed


def test_quorum_counts_every_option_including_abstain() -> None:
    assert default_quorum(30) == 20
    d = decide(16, 0, 3, total_members=30)  # 19 took part < 20
    assert not d.quorum_met and not d.passed
    d = decide(16, 0, 4, total_members=30)
    assert d.quorum_met and d.passed
    assert decide(1, 0, 0, total_members=30, quorum=1).quorum_met


def test_invalid_inputs_are_refused() -> None:
    with pytest.raises(ValueError):
        decide(6, 6, 0, total_members=10)  # more ballots than members
    with pytest.raises(ValueError):
        decide(1, 0, 0, total_members=10, threshold="unanimous")
    with pytest.raises(ValueError):
        decide(-1, 0, 0, total_members=10)


@given(st.integers(1, 500), st.data())
def test_passing_is_monotonic_and_exact(total: int, data: st.DataObject) -> None:
    yes = data.draw(st.integers(0, total))
    no = data.draw(st.integers(0, total - yes))
    abstain = data.draw(st.integers(0, total - yes - no))
    threshold = data.draw(st.sampled_from(["majority", "two_thirds"]))
    d = decide(yes, no, abstain, total_members=total, threshold=threshold, quorum=0)
    if threshold == "majority":
        assert d.passed == (2 * yes > total)
    else:
        assert d.passed == (3 * yes >= 2 * total)
    if yes < total:  # one more yes (instead of an abstention or a new ballot) never un-passes
        more = decide(yes + 1, no, max(abstain - 1, 0), total_members=total, threshold=threshold, quorum=0) \
            if yes + no + abstain - (1 if abstain else 0) + 1 <= total else None
        if more is not None and d.passed:
            assert more.passed
