"""Level 3: edit channels over the frozen level-2 encoder, from a few intervention examples."""

from __future__ import annotations

import numpy as np
import pytest

from host.cohort import CohortConfig, cohort
from host.forecast import unscale
from host.interventions import EditModel, intervention_examples


@pytest.fixture(scope="module")
def subjects():
    return cohort(CohortConfig(subjects=8, days=12, treated_fraction=0.0, seed=6))


def test_examples_carry_their_dose_and_true_effect(subjects):
    factual, counterfactual = intervention_examples(subjects, 5, random_state=0)
    assert factual["doses"].shape == (5, 72, 2)
    assert (factual["doses"][:, 48:55].sum(axis=(1, 2)) > 0).all()  # within 6 h of the origin
    assert not counterfactual["doses"][:, 48:].any()
    np.testing.assert_array_equal(factual["past"], counterfactual["past"])


@pytest.fixture(scope="module")
def level2():
    """A level-2 forecaster good enough for its forecasts to be edited (seconds)."""
    from host.cohort import simulate
    from host.forecast import Level2Forecaster, Series

    cohort_ = cohort(CohortConfig(subjects=12, days=21, seed=3))
    return Level2Forecaster(hidden=16, epochs=6, max_windows=3000).fit(
        [Series.from_trajectory(simulate(s)) for s in cohort_])


def test_edit_channels_learn_from_20_examples_and_leave_level2_frozen(level2, subjects):
    before = [p.detach().clone() for p in level2.net_.parameters()]
    train, test = subjects[:5], subjects[5:]
    examples, _ = intervention_examples(train, 20, random_state=1)
    edit = EditModel(epochs=200).fit(level2, examples)
    assert edit.n_examples_ == 20
    for p, q in zip(level2.net_.parameters(), before, strict=True):
        assert (p.detach() == q).all()
    factual, counterfactual = intervention_examples(test, 40, random_state=2)
    true = unscale(factual["target"]) - unscale(counterfactual["target"])
    base, edited = edit.predict(factual)
    drug = factual["doses"].sum(axis=1).argmax(axis=1)
    # Heart rate under metoprolol (0), ectopy under flecainide (1): half the error of
    # ignoring the edit (the acceptance of level 3).
    for target in (0, 1):
        rows = drug == target
        error = np.abs(edited - base - true)[rows, :, target].mean()
        assert error < 0.5 * np.abs(true[rows, :, target]).mean()


def test_what_if_answers_with_and_without_the_dose(twin_models, subjects):
    from host.cohort import simulate
    from host.forecast import Series

    _, edit = twin_models
    series = Series.from_trajectory(simulate(subjects[0]))
    answer = edit.what_if(series, [("metoprolol", 2, 100.0)])
    effect = np.array(answer["effect_hr_bpm"])
    assert effect[:2].sum() == pytest.approx(0.0, abs=0.05)
    assert effect[3:8].mean() < 0
    with pytest.raises(ValueError, match="unknown drug"):
        edit.what_if(series, [("aspirin", 0, 100.0)])
    with pytest.raises(ValueError, match=r"0\.\.23"):
        edit.what_if(series, [("metoprolol", 30, 100.0)])


def test_saved_edit_model_gives_the_same_answer(twin_models, subjects, tmp_path):
    from host.cohort import simulate
    from host.forecast import Series

    level2, edit = twin_models
    edit.save(str(tmp_path / "e.pt"))
    again = EditModel.load(str(tmp_path / "e.pt"), level2)
    series = Series.from_trajectory(simulate(subjects[1]))
    dose = [("flecainide", 0, 100.0)]
    assert again.what_if(series, dose) == edit.what_if(series, dose)
