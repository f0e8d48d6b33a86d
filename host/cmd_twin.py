"""``neurotwin twin ...``: the host twin from the command line (a thin shell over host.*).

The database is ``--db`` (a file path, ``sqlite:///path`` or ``postgresql://...``; default
``$NEUROTWIN_DB`` or ``neurotwin-twin.db``). The command line acts with the rights of whoever
can open the database; its queries are audited as actor ``cli`` and honour consent.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from host.storage import ConsentError, StorageError, open_repository

DEFAULT_DB = "neurotwin-twin.db"


def _db(args: argparse.Namespace) -> str:
    return args.db or os.environ.get("NEUROTWIN_DB") or DEFAULT_DB


def _ingest(args: argparse.Namespace) -> int:
    from host.ingest import IngestReport, ingest_file, serve_stream

    with open_repository(_db(args)) as repo:
        if args.stdin:
            report = serve_stream(repo, args.source or "stdin", sys.stdin.buffer, sys.stdout,
                                  batch=args.batch)
        else:
            if not args.files:
                print("neurotwin twin ingest: give files or --stdin", file=sys.stderr)
                return 2
            report = IngestReport()
            for path in args.files:
                report.add(ingest_file(repo, path, args.source, batch=args.batch))
    print(f"read {report.read}, stored {report.stored}, already stored {report.duplicates}, "
          f"refused (no consent) {len(report.refused)}, rejected {len(report.rejected)}",
          file=sys.stderr)
    for reason in report.rejected[:20]:
        print(f"  rejected {reason}", file=sys.stderr)
    return 0


def _consent(args: argparse.Namespace) -> int:
    with open_repository(_db(args)) as repo:
        repo.set_consent(args.subject, not args.withdraw)
        repo.audit("cli", "consent", args.subject, True,
                   "withdrawn" if args.withdraw else "granted")
    print(f"{args.subject}: consent {'withdrawn' if args.withdraw else 'granted'}")
    return 0


def _token(args: argparse.Namespace) -> int:
    with open_repository(_db(args)) as repo:
        token = repo.add_token(args.actor, args.subject or ())
        repo.audit("cli", "token", None, True, f"{args.actor}: {', '.join(args.subject or [])}")
    print(token)
    return 0


def _export(args: argparse.Namespace) -> int:
    with open_repository(_db(args)) as repo:
        data = repo.export(args.subject)
        repo.audit("cli", "export", args.subject, True)
    text = json.dumps(data, indent=1)
    if args.out:
        Path(args.out).write_text(text)
        print(f"{args.subject}: {len(data['events'])} events -> {args.out}")
    else:
        print(text)
    return 0


def _delete(args: argparse.Namespace) -> int:
    with open_repository(_db(args)) as repo:
        n = repo.delete_subject(args.subject)
        repo.audit("cli", "delete", args.subject, True, f"{n} events")
    print(f"{args.subject}: {n} events deleted")
    return 0


def _audit(args: argparse.Namespace) -> int:
    with open_repository(_db(args)) as repo:
        for row in repo.audit_log(args.subject):
            print(json.dumps(row))
    return 0


def _simulate(args: argparse.Namespace) -> int:
    from host.cohort import CohortConfig, cohort, simulate, to_events

    subjects = cohort(CohortConfig(subjects=args.subjects, days=args.days, seed=args.seed))
    with open_repository(_db(args)) as repo:
        for subject in subjects:
            repo.set_consent(subject.name, True)
            stored = repo.append(to_events(simulate(subject)))
            print(f"{subject.name}: {stored} events")
    return 0


def _train(args: argparse.Namespace) -> int:
    from host.cohort import CohortConfig, cohort
    from host.forecast import Level2Forecaster, Series
    from host.interventions import EditModel, intervention_examples
    from host.service import EDIT_FILE, LEVEL2_FILE

    out = Path(args.models)
    out.mkdir(parents=True, exist_ok=True)
    with open_repository(_db(args)) as repo:
        names = args.subject or [s for s in repo.subjects() if repo.consent(s)]
        series = [Series.from_repository(repo, s) for s in names]
        repo.audit("cli", "train", None, True, f"{len(series)} subjects")
    level2 = Level2Forecaster(hidden=args.hidden, epochs=args.epochs,
                              random_state=args.seed).fit(series)
    level2.save(str(out / LEVEL2_FILE))
    # Level 3 learns from intervention examples of the virtual cohort (known effects).
    subjects = cohort(CohortConfig(subjects=args.examples, days=21, seed=args.seed + 1))
    examples, _ = intervention_examples(subjects, args.examples, args.seed)
    EditModel(random_state=args.seed).fit(level2, examples).save(str(out / EDIT_FILE))
    print(f"level 2 on {len(series)} subjects (loss {level2.history_[-1]:.3f}), level 3 on "
          f"{args.examples} intervention examples -> {out}")
    return 0


def _service(args: argparse.Namespace, repo, operators: tuple[str, ...] = ()):
    from host.service import TwinService, load_models

    level2, edit = load_models(args.models)
    return TwinService(repo, level2, edit, operators=operators)


def _query(args: argparse.Namespace) -> int:
    from host.service import Forbidden, NotReady

    with open_repository(_db(args)) as repo:
        service = _service(args, repo, operators=("cli",))
        try:
            if args.twin_command == "what-if":
                doses = []
                for text in args.dose:
                    drug, _, rest = text.partition(":")
                    mg, _, hour = rest.partition("@")
                    doses.append((drug, int(hour or 0), float(mg)))
                answer = service.what_if("cli", args.subject, doses)
            elif args.twin_command == "state":
                answer = service.state("cli", args.subject, args.hours)
            else:
                answer = getattr(service, args.twin_command)("cli", args.subject)
        except (Forbidden, NotReady) as exc:
            print(f"neurotwin: {exc}", file=sys.stderr)
            return 3
    print(json.dumps(answer, indent=1))
    return 0


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from host.api import create_app

    repo = open_repository(_db(args))
    uvicorn.run(create_app(_service(args, repo)), host=args.host, port=args.port)
    return 0


def _handle(args: argparse.Namespace) -> int:
    try:
        return args.twin_func(args)
    except (StorageError, ConsentError, ValueError, OSError) as exc:
        print(f"neurotwin: error: {exc}", file=sys.stderr)
        return 2


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``twin`` and its subcommands."""
    twin = subparsers.add_parser("twin", help="the host twin: ingest, query, forecast, "
                                 "what-if, explain, serve the API")
    twin.add_argument("--db", help=f"database: path, sqlite:///path or postgresql://... "
                      f"(default $NEUROTWIN_DB or {DEFAULT_DB})")
    twin.set_defaults(func=_handle)
    sub = twin.add_subparsers(dest="twin_command", required=True)

    p = sub.add_parser("ingest", help="store events from files (.jsonl, .csv) or stdin")
    p.add_argument("files", nargs="*", help="event files")
    p.add_argument("--stdin", action="store_true", help="read JSON lines from stdin and "
                   "print one acknowledgement line per committed batch")
    p.add_argument("--source", help="stream name (default: file:<name> or stdin)")
    p.add_argument("--batch", type=int, default=1000, help="events per transaction (at most)")
    p.set_defaults(twin_func=_ingest)

    p = sub.add_parser("consent", help="record a subject's consent or its withdrawal")
    p.add_argument("subject")
    p.add_argument("--withdraw", action="store_true")
    p.set_defaults(twin_func=_consent)

    p = sub.add_parser("token", help="make an API token for an actor (printed once)")
    p.add_argument("actor")
    p.add_argument("--subject", action="append", help="subject the actor may reach "
                   "(repeatable; * for all)")
    p.set_defaults(twin_func=_token)

    p = sub.add_parser("export", help="everything stored about a subject, as JSON")
    p.add_argument("subject")
    p.add_argument("--out", help="file (default: print)")
    p.set_defaults(twin_func=_export)

    p = sub.add_parser("delete", help="erase a subject's data (the audit log stays)")
    p.add_argument("subject")
    p.set_defaults(twin_func=_delete)

    p = sub.add_parser("audit", help="print the audit log (JSON lines)")
    p.add_argument("subject", nargs="?")
    p.set_defaults(twin_func=_audit)

    p = sub.add_parser("simulate", help="store a virtual cohort (host.cohort), with consent")
    p.add_argument("--subjects", type=int, default=10)
    p.add_argument("--days", type=int, default=28)
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(twin_func=_simulate)

    models = argparse.ArgumentParser(add_help=False)
    models.add_argument("--models", default="twin-models", help="folder of the trained "
                        "models (default twin-models)")

    p = sub.add_parser("train", parents=[models], help="train level 2 on the stored subjects "
                       "and level 3 on virtual intervention examples")
    p.add_argument("--subject", action="append", help="train on these (default: all who "
                   "consent)")
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--hidden", type=int, default=32)
    p.add_argument("--examples", type=int, default=20, help="intervention examples (level 3)")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(twin_func=_train)

    for name, text in (("state", "the latest hourly level-1 state"),
                       ("forecast", "the 24-h forecast (level 2, with level-4 correction)"),
                       ("explain", "attributions and counterfactuals (level 5)"),
                       ("update", "fold new data into the subject's level-4 adapter")):
        p = sub.add_parser(name, parents=[models], help=text)
        p.add_argument("subject")
        if name == "state":
            p.add_argument("--hours", type=int, default=24)
        p.set_defaults(twin_func=_query)
    p = sub.add_parser("what-if", parents=[models], help="forecast with extra doses (level 3)")
    p.add_argument("subject")
    p.add_argument("--dose", action="append", required=True,
                   help="DRUG:MG@HOUR, e.g. metoprolol:50@0 (hours from now)")
    p.set_defaults(twin_func=_query)

    p = sub.add_parser("serve", parents=[models], help="serve the HTTP API (uvicorn)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.set_defaults(twin_func=_serve)
