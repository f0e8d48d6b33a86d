"""External check on simglucose (UVA/Padova): scenario, counterfactual boluses, level 2, level 3.

Small runs (1 simulated day per patient, a few patients); the full figures come from
benchmarks/bench_glucose.py.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import numpy as np
import pytest

from host import glucose as G

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("simglucose") is None or importlib.util.find_spec("torch") is None,
    reason="simglucose and torch are installed on Python 3.11 only")


def test_import_needs_neither_simglucose_nor_torch() -> None:
    code = ("import sys, host.glucose; "
            "assert 'simglucose' not in sys.modules and 'torch' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_therapy_from_bundled_parameters() -> None:
    t = G.therapy("adult#001")
    assert (t.cr, round(t.cf, 2)) == (10.0, 8.77)
    assert 0.005 < t.basal < 0.05  # U/min: about 1 U/h


def test_scenario_is_seeded() -> None:
    t = G.therapy("adult#001")
    a, b, c = G.scenario(t, 2, 1), G.scenario(t, 2, 1), G.scenario(t, 2, 2)
    assert a == b and a != c
    assert len(a.meals) >= 6 and all(carbs >= 10 for _, carbs in a.meals)


def test_counterfactual_bolus_lowers_glucose_in_proportion() -> None:
    zero, one, three = G.bolus_effects("adult#001", [(480, 0.0)], 1, 0)[0], *(
        G.bolus_effects("adult#001", [(480, u)], 1, 0)[0] for u in (1.0, 3.0))
    # same state, same scenario, no extra insulin: the two runs agree exactly
    assert np.array_equal(zero.effect, np.zeros_like(zero.effect))
    assert one.effect.shape == G.EFFECT_MINUTES.shape
    assert np.all(one.effect <= 1e-9) and one.effect[-1] < -5.0
    assert abs(one.effect[0]) < 1.0  # subcutaneous insulin acts with a delay
    assert three.effect[-1] < 2.0 * one.effect[-1]
    assert one.cgm > 39.0


def test_edit_model_takes_at_most_20_examples() -> None:
    e = G.BolusExample("x", 10.0, 0, 1.0, 140.0, np.zeros(len(G.EFFECT_MINUTES)))
    with pytest.raises(ValueError):
        G.BolusEditModel().fit([e] * 21)


def test_edit_model_recovers_its_own_curve() -> None:
    truth = G.BolusEditModel(gain=0.8, exponent=0.5, tau_min=70.0)
    examples = [G.BolusExample("x", cf, 0, u, g, truth.predict(u, cf, g))
                for cf, u, g in [(10.0, 1.0, 100.0), (30.0, 2.0, 200.0), (15.0, 3.0, 150.0)]]
    fit = G.BolusEditModel().fit(examples)
    assert fit.gain == pytest.approx(0.8, rel=1e-3)
    assert fit.exponent == pytest.approx(0.5, abs=1e-3)
    assert fit.tau_min == pytest.approx(70.0, rel=1e-3)


@pytest.fixture(scope="module")
def check() -> dict:
    config = G.CheckConfig(train=tuple(f"{group}#{i:03d}" for group in ("adolescent", "adult",
                                                                      "child") for i in (1, 2)),
                           test=("adolescent#003", "adult#003", "child#003"), days=1,
                           edit_examples=6, edit_tests=3, epochs=60)
    return G.external_check(config)


def test_forecaster_beats_persistence_on_held_out_patients(check: dict) -> None:
    l2 = check["level2"]
    assert l2["model_rmse"] < 0.9 * l2["persistence_rmse"]
    assert set(l2["patients"]) == {"adolescent#003", "adult#003", "child#003"}


def test_edit_beats_the_no_effect_baseline_on_held_out_boluses(check: dict) -> None:
    l3 = check["level3"]
    assert l3["examples"] == 6 and l3["tests"] == 9
    assert l3["mean_true_at_180"] < -5.0  # the simulator's boluses lower glucose
    assert l3["effect_mae"] < 0.7 * l3["no_effect_mae"]
