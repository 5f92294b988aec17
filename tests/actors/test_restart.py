"""Restart building blocks with a fake clock and a fake random source."""

from __future__ import annotations

import pytest
from _support.clock import FakeClock

from conductor_actors.actors import RestartIntensity, RestartPolicy, restart_backoff


def test_intensity_allows_max_restarts_within_the_window_then_refuses() -> None:
    clock = FakeClock(0.0)
    intensity = RestartIntensity(max_restarts=3, within=10.0, clock=clock)
    for _ in range(3):
        assert intensity.record()
        clock.advance(1.0)
    assert not intensity.record()  # the 4th within 10 s
    assert intensity.count() == 4


def test_intensity_window_slides() -> None:
    clock = FakeClock(0.0)
    intensity = RestartIntensity(max_restarts=2, within=10.0, clock=clock)
    assert intensity.record()  # t=0
    clock.advance(5.0)
    assert intensity.record()  # t=5
    clock.advance(5.0)  # t=10: the restart at t=0 has left the window (t-10, t]
    assert intensity.record()
    assert intensity.count() == 2
    clock.advance(0.5)
    assert not intensity.record()  # t=5, t=10, t=10.5
    clock.advance(89.5)  # t=100
    assert intensity.count() == 0
    assert intensity.record()


def test_defaults_follow_the_design() -> None:
    clock = FakeClock(0.0)
    intensity = RestartIntensity(clock=clock)
    assert [intensity.record() for _ in range(11)] == [True] * 10 + [False]
    policy = RestartPolicy()
    assert (policy.max_restarts, policy.within, policy.backoff_base, policy.backoff_cap) == (10, 300.0, 0.5, 30.0)
    assert (policy.jitter, policy.reset_after) == (0.2, 60.0)


def test_backoff_doubles_from_base_up_to_the_cap() -> None:
    middle = 0.5  # rng value that means "no jitter"
    delays = [restart_backoff(n, rng=lambda: middle) for n in range(1, 10)]
    assert delays == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0]
    assert restart_backoff(10_000, rng=lambda: middle) == 30.0  # no overflow for huge n


def test_backoff_jitter_spans_plus_minus_the_fraction() -> None:
    assert restart_backoff(3, rng=lambda: 0.0) == pytest.approx(2.0 * 0.8)
    assert restart_backoff(3, rng=lambda: 0.999999) == pytest.approx(2.0 * 1.2, rel=1e-5)
    assert restart_backoff(3, jitter=0.0, rng=lambda: 0.0) == 2.0
    assert restart_backoff(2, base=1.0, cap=1.5, jitter=0.0) == 1.5
    policy = RestartPolicy(backoff_base=0.1, backoff_cap=1.0, jitter=0.0)
    assert [policy.backoff(n) for n in (1, 2, 5)] == [0.1, 0.2, 1.0]


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"n": 0}, "n "),
        ({"n": 1.5}, "n "),
        ({"n": 1, "base": -1.0}, "base"),
        ({"n": 1, "cap": float("nan")}, "cap"),
        ({"n": 1, "jitter": 1.0}, "jitter"),
        ({"n": 1, "jitter": -0.1}, "jitter"),
    ],
)
def test_backoff_rejects_bad_arguments(kwargs: dict[str, float], match: str) -> None:
    n = kwargs.pop("n")
    with pytest.raises(ValueError, match=match):
        restart_backoff(n, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"max_restarts": -1}, "max_restarts"),
        ({"max_restarts": True}, "max_restarts"),
        ({"within": 0.0}, "within"),
        ({"backoff_cap": float("inf")}, "backoff_cap"),
        ({"jitter": 2.0}, "jitter"),
        ({"reset_after": -5.0}, "reset_after"),
    ],
)
def test_policy_and_intensity_reject_bad_values(kwargs: dict[str, float], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        RestartPolicy(**kwargs)  # type: ignore[arg-type]
    if set(kwargs) <= {"max_restarts", "within"}:
        with pytest.raises(ValueError, match=match):
            RestartIntensity(**kwargs)  # type: ignore[arg-type]
