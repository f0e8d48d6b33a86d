"""The validation of levels 2-5 runs end to end and reports every acceptance figure."""

from __future__ import annotations

import pytest

from host.validation import REPORTED_HORIZONS, ValidationConfig, validate


@pytest.mark.slow
def test_small_validation_reports_every_level():
    r = validate(ValidationConfig(train_subjects=6, test_subjects=2, days=21, epochs=1,
                                  max_windows=1000, hidden=8, edit_examples=20, edit_tests=10,
                                  shift_subjects=1, shift_days=24, explain_queries=3))
    for h in REPORTED_HORIZONS:
        x = r["level2"]["hr_bpm"][str(h)]
        assert x["naive_mae"] > 0 and x["model_mae"] > 0
    assert r["level3"]["examples"] == 20
    assert r["level3"]["hr_bpm"]["effect_mae_level2"] > 0
    assert len(r["level4"]["subjects"]) == 1
    assert len(r["level5"]["queries"]) == 3
    assert r["level5"]["counterfactual_mae_bpm"] >= 0
