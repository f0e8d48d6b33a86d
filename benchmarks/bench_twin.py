"""Host twin figures: levels 2-5 on the virtual cohort against the simulator's ground truth.

    python benchmarks/bench_twin.py [--train 30] [--test 10] [--epochs 12] [--json out.json]

Writes the "twin" section of docs/benchmarks.md (what host.validation measures, see there).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from report import write_section  # benchmarks/ is on sys.path when run as a script

from host.validation import REPORTED_HORIZONS, ValidationConfig, validate


def markdown(r: dict, command: str) -> str:
    c = r["config"]
    lines = [
        "## Host twin (levels 2-5 on the virtual cohort)", "",
        f"`{command}` — {c['train_subjects']} training and {c['test_subjects']} held-out "
        f"virtual subjects of {c['days']} days (host.cohort, seed {c['seed']}), level-2 GRU "
        f"with z of {c['hidden']}, {c['epochs']} epochs on {c['max_windows']} windows, 1 CPU "
        f"thread; {r['seconds']:.0f} s in all.", "",
        "### Level 2: forecast MAE vs seasonal naive (same hour yesterday), held-out subjects",
        "", "The forecast is conditioned on the known covariates of the 24 forecast hours: the "
        "weather (here the simulated values, i.e. a perfect weather forecast) and the "
        "subject's activity plan (the simulator's schedule: sleep, routine, planned exercise; "
        "not the activity that then happens). Last two columns: the same model with the plan "
        "unknown (the activity of a week before in its place).", "",
        "| horizon | HR model (bpm) | HR naive (bpm) | reduction | ectopy model (1/h) | "
        "ectopy naive (1/h) | reduction | reduction without a plan: HR / ectopy |",
        "|---|---|---|---|---|---|---|---|"]
    for h in REPORTED_HORIZONS:
        a, b = r["level2"]["hr_bpm"][str(h)], r["level2"]["ectopy_per_h"][str(h)]
        c = r["level2"]["without_plan_hr_bpm"][str(h)]
        d = r["level2"]["without_plan_ectopy_per_h"][str(h)]
        lines.append(f"| {h} h | {a['model_mae']:.2f} | {a['naive_mae']:.2f} | "
                     f"{a['reduction']:.1%} | {b['model_mae']:.2f} | {b['naive_mae']:.2f} | "
                     f"{b['reduction']:.1%} | {c['reduction']:.1%} / {d['reduction']:.1%} |")
    l3 = r["level3"]
    lines += ["", f"### Level 3: effect of a dose, {l3['examples']} training examples, "
              f"{l3['tests']} held-out doses", "",
              "| target (drug) | doses | effect MAE, level 3 | effect MAE, level 2 (no edit) | "
              "reduction | outcome MAE level 3 / level 2 |", "|---|---|---|---|---|---|"]
    for name in ("hr_bpm", "ectopy_per_h"):
        x = l3[name]
        lines.append(f"| {name} ({x['drug']}) | {x['doses']} | {x['effect_mae_level3']:.2f} | "
                     f"{x['effect_mae_level2']:.2f} | {x['reduction']:.0%} | "
                     f"{x['outcome_mae_level3']:.2f} / {x['outcome_mae_level2']:.2f} |")
    l4 = r["level4"]
    lines += ["", f"### Level 4: +12 °C climate shift on day {l4['shift_day']}, adapter updated "
              "daily", "", "Days to recover: from which day after the shift every later "
              "day's error (updated model) stays within 110% of the frozen model's error on the "
              "same day without the shift (the simulator's counterfactual run: same noise and "
              "activity); in brackets, against the frozen model's mean error in the week "
              "before the shift instead, a reference that ordinary day-to-day spread already "
              "exceeds. MAE in bpm, heart rate, mean over horizons 1-24 h.", "",
              "| subject | MAE week before (frozen) | MAE after shift, frozen | "
              "after shift, updated | days to recover (vs week before) | "
              "MAE on earlier data, change |", "|---|---|---|---|---|---|"]
    for s in l4["subjects"]:
        lines.append(f"| {s['subject']} | {s['pre_shift_mae']:.2f} | {s['shift_mae_frozen']:.2f}"
                     f" | {s['shift_mae_updated']:.2f} | {s['days_to_recover']} "
                     f"({s['days_to_recover_vs_pre_week']}) | "
                     f"{s['earlier_mae_growth']:+.1%} |")
    lines += ["", f"Days to recover: median {l4['median_days_to_recover']}, max "
              f"{l4['max_days_to_recover']} (None: not within the "
              f"{l4['span_days']} days after the shift); largest growth of error on earlier "
              f"data {l4['max_earlier_mae_growth']:+.1%}."]
    l5 = r["level5"]
    lines += ["", f"### Level 5: {len(l5['queries'])} queries", "",
              f"Spearman (|attribution| vs |simulated effect| over activity, heat, PM2.5, drug; "
              f"attributions: captum Shapley values per driver): "
              f"mean {l5['mean_spearman']:.2f}, median {l5['median_spearman']:.2f}, "
              f"{l5['fraction_at_least_0.8']:.0%} of queries ≥ 0.8. Counterfactual effect "
              f"error {l5['counterfactual_mae_bpm']:.2f} bpm per hour (mean |true effect| "
              f"{l5['mean_true_effect_bpm']:.2f} bpm). Sign agrees with the simulator's on "
              f"{l5['sign_agreement_attribution']:.0%} (attribution) and "
              f"{l5['sign_agreement_counterfactual']:.0%} (counterfactual) of the "
              f"{l5['sign_pairs']} driver effects of at least 0.2 bpm."]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--train", type=int, default=30)
    parser.add_argument("--test", type=int, default=10)
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--json", help="also write every figure here")
    args = parser.parse_args()
    config = ValidationConfig(train_subjects=args.train, test_subjects=args.test,
                              epochs=args.epochs)
    result = validate(config)
    result.pop("models")
    command = "python benchmarks/bench_twin.py " + " ".join(sys.argv[1:])
    text = markdown(result, command.strip())
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1, default=str))
    write_section("twin", text)
    print(text)


if __name__ == "__main__":
    main()
