"""The virtual cohort: seeded, within its cited ranges, with exact counterfactuals."""

from __future__ import annotations

import numpy as np
import pytest

from host.cohort import (
    RANGES,
    CohortConfig,
    Physiology,
    Plan,
    cohort,
    ecg_excerpt,
    simulate,
    to_events,
)


@pytest.fixture(scope="module")
def subjects():
    return cohort(CohortConfig(subjects=6, days=21, treated_fraction=0.5,
                               heat_wave_fraction=0.5, pollution_fraction=0.5, seed=4))


def test_every_range_has_a_unit_and_a_source():
    for name, (lo, hi, unit, source) in RANGES.items():
        assert lo < hi and isinstance(unit, str) and source, name
        assert hasattr(Physiology(), name)


def test_same_seed_same_cohort_and_noise(subjects):
    again = cohort(CohortConfig(subjects=6, days=21, treated_fraction=0.5,
                                heat_wave_fraction=0.5, pollution_fraction=0.5, seed=4))
    for a, b in zip(subjects, again, strict=True):
        assert a.physiology == b.physiology
        np.testing.assert_array_equal(simulate(a).hr, simulate(b).hr)


def test_physiology_lies_in_the_ranges(subjects):
    for s in subjects:
        for name, (lo, hi, _, _) in RANGES.items():
            assert lo <= getattr(s.physiology, name) <= hi


def test_heart_rate_has_a_circadian_rhythm_and_plausible_values(subjects):
    tr = simulate(subjects[0])
    assert 40 < tr.hr.min() and tr.hr.max() < 180
    by_hour = tr.hr.reshape(-1, 24).mean(axis=0)
    assert by_hour[3] < by_hour[15] - 5  # asleep at 03:00, awake at 15:00


def test_metoprolol_pk_peaks_at_tmax_and_decays_with_its_half_life():
    p = Physiology(bb_tmax_h=1.5, bb_half_life_h=4.0)
    c = p.kernel("metoprolol", 48)
    assert int(np.argmax(c)) in (1, 2)  # mid-hour samples 0.5, 1.5, 2.5 h
    assert c[20] / c[16] == pytest.approx(0.5, rel=0.02)


def test_a_dose_lowers_heart_rate_and_changes_nothing_before_it(subjects):
    s = next(s for s in subjects if not s.plan.doses["metoprolol"].any())
    base = simulate(s)
    dosed = simulate(s, plan=s.plan.with_dose("metoprolol", 200, 100.0))
    effect = dosed.hr - base.hr
    np.testing.assert_array_equal(effect[:200], 0.0)
    assert effect[201:205].min() < -5
    assert abs(effect[240:]).max() < 1  # washed out after a day


def test_flecainide_lowers_the_ectopic_rate(subjects):
    s = subjects[1]
    plan = Plan({**s.plan.doses, "flecainide": np.where(np.arange(s.hours) % 12 == 8, 100.0,
                                                        0.0)})
    treated = simulate(s, plan=plan.without("metoprolol"))
    untreated = simulate(s, plan=Plan.none(s.hours))
    assert treated.ectopy_rate[48:].mean() < 0.6 * untreated.ectopy_rate[48:].mean()
    assert np.all(treated.ectopy[48:] <= untreated.ectopy[48:] + 1e-9)


def test_removing_a_driver_removes_exactly_its_contribution(subjects):
    s = subjects[2]
    no_drug = Plan.none(s.hours)
    full, without = simulate(s, plan=no_drug), simulate(s, plan=no_drug, remove=("pm",))
    np.testing.assert_allclose(full.hr - without.hr, full.contributions["pm"])


def test_level1_events_and_raw_ecg(subjects):
    tr = simulate(subjects[0])
    events = to_events(tr, subject="x")
    hr = [e for e in events if e.name == "hr_bpm"]
    assert len(hr) == tr.hours and hr[5].value == tr.hr[5] and hr[0].subject == "x"
    assert len({(e.source, e.seq) for e in events}) == len(events)
    ecg = ecg_excerpt(tr, 100, duration_s=20.0)
    beats = ecg.beats["sample"].size
    assert beats == pytest.approx(tr.hr_true[100] / 3, abs=3)


def test_the_schedule_is_the_planned_part_of_the_activity(subjects):
    s = subjects[0]
    hod = np.arange(s.hours) % 24
    night = (hod >= 1) & (hod < 7)  # asleep every day of the week
    np.testing.assert_array_equal(s.schedule[night], s.activity[night])
    exercise = s.schedule >= 0.7  # planned sessions happen as planned
    assert exercise.any()
    np.testing.assert_array_equal(s.schedule[exercise], s.activity[exercise])
    # Awake, the day's level and the hourly deviation are not planned: activity varies more
    # around the schedule than the schedule does from one week to the next.
    awake = ~night & ~exercise
    assert not np.allclose(s.schedule[awake], s.activity[awake])
    week = np.arange(s.hours - 168)
    routine = awake[week] & awake[week + 168] & ~exercise[week + 168]
    assert np.abs(np.diff(s.schedule[np.stack([week, week + 168])][:, routine],
                          axis=0)).max() < 1e-12
    events = to_events(simulate(s))
    assert sum(e.name == "activity_plan" for e in events) == s.hours
