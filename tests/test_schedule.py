"""RankSchedule against Eq. 1 of arXiv 2401.10447 (S3 mixed-rank staging)."""

import pytest

from lorascope.core.errors import InputError
from lorascope.core.training.schedule import RankSchedule

# t_w = 100, t_i = 200, t_f = 100, T = 1000: decay runs over [200, 900).
R_F, R_I, R_T = 384, 12, 8


def schedule(printed=False):
    return RankSchedule(r_full=R_F, r_init=R_I, r_target=R_T, t_warmup=100, t_init=200, t_final=100, total=1000,
                        printed=printed)


def eq1_continuous(t):
    """Eq. 1 with AdaLoRA's u = (t - t_i) / (T - t_i - t_f), written out by hand."""
    if t < 100:
        return R_F
    if t < 200:
        return R_I
    if t < 900:
        return R_T + (R_I - R_T) * (1 - (t - 200) / (1000 - 200 - 100)) ** 3
    return R_T


def eq1_printed(t):
    """Eq. 1 exactly as printed: u = (t - t_i - t_f) / (T - t_i - t_f)."""
    if 200 <= t < 900:
        return R_T + (R_I - R_T) * (1 - (t - 200 - 100) / (1000 - 200 - 100)) ** 3
    return eq1_continuous(t)


@pytest.mark.parametrize("t", [0, 50, 99, 100, 150, 199, 200, 201, 375, 550, 725, 899, 900, 950, 999])
def test_rank_follows_eq1_at_many_points(t):
    assert schedule().rank(t) == pytest.approx(eq1_continuous(t))
    assert schedule(printed=True).rank(t) == pytest.approx(eq1_printed(t))


def test_hand_values_of_the_decay():
    s = schedule()
    # halfway through the decay: 8 + 4 * 0.5**3 = 8.5
    assert s.rank(550) == pytest.approx(8.5)
    # a quarter in: 8 + 4 * 0.75**3 = 9.6875
    assert s.rank(375) == pytest.approx(9.6875)


def test_continuous_form_has_no_jumps_and_printed_form_has_both():
    s, p = schedule(), schedule(printed=True)
    assert s.rank(200) == pytest.approx(R_I)           # starts where the initial phase ends
    assert s.rank(899) == pytest.approx(R_T, abs=1e-3)  # lands on the target
    # printed: (1 + 100/700)^3 * 4 + 8 = 13.99 > r_i at t_i, and (100/700)^3 * 4 + 8 > r_T just before T - t_f
    assert p.rank(200) == pytest.approx(8 + 4 * (1 + 100 / 700) ** 3)
    assert p.rank(200) > R_I
    assert p.rank(899) > R_T + 0.01


def test_rank_decreases_monotonically_after_warmup():
    s = schedule()
    ranks = [s.rank(t) for t in range(100, 1000)]
    assert all(a >= b for a, b in zip(ranks, ranks[1:]))


def test_phases():
    s = schedule()
    assert [s.phase(t) for t in (0, 99, 100, 199, 200, 899, 900)] == [
        "warmup", "warmup", "initial", "initial", "decay", "decay", "final"]


def test_budget_is_floored_and_clamped_to_the_adapter_ranks():
    s, p = schedule(), schedule(printed=True)
    assert s.budget(150, 36) == 12 * 36
    assert s.budget(550, 36) == int(8.5 * 36)
    assert s.budget(375, 36) == 348   # floor(9.6875 * 36 = 348.75)
    assert s.budget(950, 36) == 8 * 36
    assert p.budget(200, 36) == 12 * 36  # the printed overshoot cannot be carried out


@pytest.mark.parametrize("kwargs", [
    dict(r_init=6),                       # r_i below r_T
    dict(t_warmup=300),                   # warm-up past t_i
    dict(t_init=900),                     # no decay phase left
    dict(r_full=10),                      # full rank below r_i
])
def test_invalid_schedules_are_input_errors(kwargs):
    args = dict(r_full=R_F, r_init=R_I, r_target=R_T, t_warmup=100, t_init=200, t_final=100, total=1000)
    args.update(kwargs)
    with pytest.raises(InputError):
        RankSchedule(**args)
