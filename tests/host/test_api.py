"""The HTTP API: tokens, per-subject access, consent, audit, export and deletion."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from host.api import create_app
from host.service import TwinService


@pytest.fixture
def api(twin_repo, twin_models):
    level2, edit = twin_models
    client = TestClient(create_app(TwinService(twin_repo, level2, edit)))
    tokens = {"doctor": twin_repo.add_token("doctor", ["alice", "bob"]),
              "alice": twin_repo.add_token("alice", ["alice"]),
              "admin": twin_repo.add_token("admin", ["*"])}
    return client, tokens, twin_repo


def get(client, path, token=None, method="get", **kw):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return getattr(client, method)(path, headers=headers, **kw)


@pytest.mark.parametrize("path", ["/subjects/alice/state", "/subjects/alice/forecast",
                                  "/subjects/alice/export", "/audit"])
@pytest.mark.parametrize("token", [None, "not-a-token"])
def test_requests_without_a_valid_token_are_refused(api, path, token):
    client, _, repo = api
    r = get(client, path, token)
    assert r.status_code == 401
    assert repo.audit_log()[-1]["action"] == "authenticate"
    assert not repo.audit_log()[-1]["allowed"]


def test_another_subjects_data_is_refused_and_audited(api):
    client, tokens, repo = api
    r = get(client, "/subjects/bob/state", tokens["alice"])
    assert r.status_code == 403
    last = repo.audit_log("bob")[-1]
    assert (last["actor"], last["action"], last["allowed"]) == ("alice", "state", False)


def test_subject_without_consent_is_refused_even_to_the_doctor(api):
    client, tokens, repo = api
    for path in ("state", "forecast", "explain"):
        assert get(client, f"/subjects/bob/{path}", tokens["doctor"]).status_code == 403
    assert get(client, "/subjects/bob/whatif", tokens["doctor"], "post",
               json={"doses": [{"drug": "metoprolol", "hour": 1, "mg": 50}]}).status_code == 403
    assert [r["detail"] for r in repo.audit_log("bob")] == ["no consent"] * 4


def test_state_forecast_whatif_and_explanation_for_a_consenting_subject(api):
    client, tokens, repo = api
    state = get(client, "/subjects/alice/state?hours=6", tokens["doctor"]).json()
    assert len(state["hr_bpm"]) == 6
    forecast = get(client, "/subjects/alice/forecast", tokens["alice"]).json()
    assert len(forecast["hr_bpm"]) == 24 and len(forecast["baseline_hr_bpm"]) == 24
    answer = get(client, "/subjects/alice/whatif", tokens["doctor"], "post",
                 json={"doses": [{"drug": "metoprolol", "hour": 0, "mg": 100}]}).json()
    assert sum(answer["effect_hr_bpm"]) < 0
    explanation = get(client, "/subjects/alice/explain", tokens["doctor"]).json()
    assert set(explanation["drivers"]) == {"activity", "heat", "pm", "drug"}
    assert set(explanation["counterfactuals"]) == set(explanation["drivers"])
    actions = [(r["actor"], r["action"]) for r in repo.audit_log("alice") if r["allowed"]]
    assert actions == [("doctor", "state"), ("alice", "forecast"), ("doctor", "what_if"),
                       ("doctor", "explain")]


def test_bad_what_if_is_a_client_error(api):
    client, tokens, _ = api
    r = get(client, "/subjects/alice/whatif", tokens["doctor"], "post",
            json={"doses": [{"drug": "aspirin", "hour": 1, "mg": 50}]})
    assert r.status_code == 422
    r = get(client, "/subjects/alice/whatif", tokens["doctor"], "post",
            json={"doses": [{"drug": "metoprolol", "hour": 99, "mg": 50}]})
    assert r.status_code == 422


def test_level4_update_folds_in_new_data_once(api):
    client, tokens, _ = api
    first = get(client, "/subjects/alice/update", tokens["doctor"], "post").json()
    assert first["origins_added"] > 0
    again = get(client, "/subjects/alice/update", tokens["doctor"], "post").json()
    assert again["origins_added"] == 0 and again["samples"] == first["samples"]
    forecast = get(client, "/subjects/alice/forecast", tokens["doctor"]).json()
    assert len(forecast["level4_correction_bpm"]) == 24


def test_export_and_deletion_honour_the_subjects_rights(api):
    client, tokens, repo = api
    # Without consent a subject's data can still be exported and erased by those with access.
    exported = get(client, "/subjects/bob/export", tokens["doctor"]).json()
    assert exported["subject"] == "bob" and len(exported["events"]) > 0
    assert get(client, "/subjects/bob", tokens["alice"], "delete").status_code == 403
    gone = get(client, "/subjects/bob", tokens["doctor"], "delete").json()
    assert gone["events_deleted"] == len(exported["events"])
    assert repo.count("bob") == 0
    assert get(client, "/subjects/bob/export", tokens["doctor"]).status_code == 403


def test_the_audit_log_is_for_those_who_may_see_it(api):
    client, tokens, _ = api
    get(client, "/subjects/alice/state", tokens["alice"])
    assert get(client, "/audit", tokens["alice"]).status_code == 403
    own = get(client, "/audit?subject=alice", tokens["alice"]).json()
    assert [r["action"] for r in own][-2:] == ["state", "audit"]
    assert len(get(client, "/audit", tokens["admin"]).json()) >= len(own)


def test_health_needs_no_token(api):
    client, _, _ = api
    assert get(client, "/health").json() == {"ok": True, "level2": True, "level3": True}
