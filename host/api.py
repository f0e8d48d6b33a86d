"""The twin's HTTP API (FastAPI): state, forecast, what-if, explanation, export, deletion.

Every route but ``/health`` needs ``Authorization: Bearer <token>`` (tokens come from
``neurotwin twin token``); access, consent and audit are :class:`~host.service.TwinService`'s.
Answers: 401 without a valid token, 403 for another subject's data or a subject without
consent, 409 when the twin cannot answer yet (no model, too little history), 422 for a bad
request. ``neurotwin twin serve`` runs it with uvicorn.
"""


from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, HTTPException
from pydantic import BaseModel, Field

from host.service import Forbidden, NotReady, TwinService, Unauthenticated


class Dose(BaseModel):
    drug: str = Field(description="metoprolol or flecainide")
    hour: int = Field(ge=0, le=23, description="hours after the latest stored hour")
    mg: float = Field(gt=0, le=1000, description="dose, mg")


class WhatIf(BaseModel):
    doses: list[Dose]


def create_app(service: TwinService) -> FastAPI:
    """An app serving ``service``."""
    app = FastAPI(title="NeuroTwin host twin", version="1")

    def actor(authorization: Annotated[str | None, Header()] = None) -> str:
        token = None
        if authorization and authorization.lower().startswith("bearer "):
            token = authorization[7:].strip()
        try:
            return service.authenticate(token)
        except Unauthenticated as exc:
            raise HTTPException(401, str(exc), headers={"WWW-Authenticate": "Bearer"}) from exc

    Actor = Annotated[str, Depends(actor)]

    def guarded(call, *args: Any) -> Any:
        try:
            return call(*args)
        except Forbidden as exc:
            raise HTTPException(403, str(exc)) from exc
        except NotReady as exc:
            raise HTTPException(409, str(exc)) from exc
        except ValueError as exc:
            raise HTTPException(422, str(exc)) from exc

    @app.get("/health")
    def health() -> dict[str, Any]:
        return {"ok": True, "level2": service.level2 is not None,
                "level3": service.edit is not None}

    @app.get("/subjects/{subject}/state")
    def state(subject: str, who: Actor, hours: int = 24) -> dict[str, Any]:
        return guarded(service.state, who, subject, hours)

    @app.get("/subjects/{subject}/forecast")
    def forecast(subject: str, who: Actor) -> dict[str, Any]:
        return guarded(service.forecast, who, subject)

    @app.post("/subjects/{subject}/whatif")
    def what_if(subject: str, body: WhatIf, who: Actor) -> dict[str, Any]:
        return guarded(service.what_if, who, subject,
                       [(d.drug, d.hour, d.mg) for d in body.doses])

    @app.get("/subjects/{subject}/explain")
    def explain(subject: str, who: Actor) -> dict[str, Any]:
        return guarded(service.explain, who, subject)

    @app.post("/subjects/{subject}/update")
    def update(subject: str, who: Actor) -> dict[str, Any]:
        return guarded(service.update, who, subject)

    @app.get("/subjects/{subject}/export")
    def export(subject: str, who: Actor) -> dict[str, Any]:
        return guarded(service.export, who, subject)

    @app.delete("/subjects/{subject}")
    def delete(subject: str, who: Actor) -> dict[str, Any]:
        return guarded(service.delete, who, subject)

    @app.get("/audit")
    def audit(who: Actor, subject: str | None = None) -> list[dict[str, Any]]:
        return guarded(service.audit_log, who, subject)

    return app
