"""Baseline webhook receiver: FastAPI + SQLite, written the way a small team
would write it by hand.

    POST /webhooks/freshdesk   verify HMAC-SHA256 (hex, header
                               X-Webhook-Signature) over the raw body, parse the
                               JSON, dedupe, answer {"id":"evt_…","status":…}
    GET  /health               {"status":"ok"}

Mode (env BENCH_RECEIVER_MODE, or --mode when run as a script):

    memory  dedupe in an in-process dict; nothing is persisted
    sqlite  every event is committed to SQLite (WAL, synchronous=FULL) before
            the answer; dedupe through a UNIQUE key

Other env: BENCH_SECRET (default bench-secret-0123456789), BENCH_DB (sqlite
file, default ./fastapi-bench.db), BENCH_HEADER (default X-Webhook-Signature).

Run:  BENCH_RECEIVER_MODE=sqlite uvicorn --app-dir bench fastapi_receiver:app \
          --host 127.0.0.1 --port 18084 --workers 1
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import sqlite3
import sys
import time

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

MODE = os.environ.get("BENCH_RECEIVER_MODE", "memory")
SECRET = os.environ.get("BENCH_SECRET", "bench-secret-0123456789").encode()
HEADER = os.environ.get("BENCH_HEADER", "X-Webhook-Signature")
DB_PATH = os.environ.get("BENCH_DB", "fastapi-bench.db")
SOURCE = "freshdesk"
DEFAULT_EVENT = "ticket.created"

if MODE not in ("memory", "sqlite"):
    raise SystemExit(f"BENCH_RECEIVER_MODE must be memory or sqlite, not {MODE!r}")

app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)

_seen: dict[str, str] = {}
_db: sqlite3.Connection | None = None


def _open_db() -> sqlite3.Connection:
    # isolation_level=None: autocommit, so each INSERT is its own transaction
    # and is durable (WAL + synchronous=FULL fsyncs the WAL on every commit)
    # before the handler answers.
    db = sqlite3.connect(DB_PATH, isolation_level=None, check_same_thread=False)
    mode = db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
    if mode.lower() != "wal":
        raise SystemExit(f"could not enable WAL on {DB_PATH} (got {mode})")
    db.execute("PRAGMA synchronous=FULL")
    db.execute(
        """CREATE TABLE IF NOT EXISTS events (
               seq         INTEGER PRIMARY KEY,
               id          TEXT NOT NULL UNIQUE,
               source      TEXT NOT NULL,
               event_type  TEXT NOT NULL,
               dedupe_key  TEXT NOT NULL UNIQUE,
               received_at REAL NOT NULL,
               payload     BLOB NOT NULL
           )"""
    )
    return db


@app.on_event("startup")
def _startup() -> None:
    global _db
    if MODE == "sqlite":
        _db = _open_db()


@app.on_event("shutdown")
def _shutdown() -> None:
    if _db is not None:
        _db.close()


def _dedupe_key(doc: dict, body: bytes) -> str:
    # Freshdesk sends no delivery id header; the key is the ticket plus the
    # content of the delivery, so a retried delivery is recognised while a
    # new update of the same ticket is not.
    ticket = doc.get("ticket_id")
    digest = hashlib.sha256(body).hexdigest()
    return f"{SOURCE}:{ticket}:{digest}"


def _reply(status_code: int, payload: dict) -> Response:
    return JSONResponse(payload, status_code=status_code)


@app.get("/health")
async def health() -> Response:
    return _reply(200, {"status": "ok", "mode": MODE})


@app.post("/webhooks/freshdesk")
async def freshdesk(request: Request) -> Response:
    body = await request.body()

    sig = request.headers.get(HEADER)
    if not sig:
        return _reply(401, {"error": "missing signature"})
    expected = hmac.new(SECRET, body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, sig.strip().lower()):
        return _reply(401, {"error": "bad signature"})

    try:
        doc = json.loads(body)
    except ValueError:
        return _reply(400, {"error": "invalid json"})
    if not isinstance(doc, dict) or not isinstance(doc.get("freshdesk_webhook"), dict):
        return _reply(400, {"error": "not a freshdesk webhook"})
    ticket = doc["freshdesk_webhook"]
    key = _dedupe_key(ticket, body)

    if MODE == "memory":
        existing = _seen.get(key)
        if existing is not None:
            return _reply(200, {"id": existing, "status": "duplicate"})
        event_id = "evt_" + secrets.token_hex(12)
        _seen[key] = event_id
        return _reply(200, {"id": event_id, "status": "accepted"})

    event_id = "evt_" + secrets.token_hex(12)
    assert _db is not None
    # Runs on the event loop thread: one connection, one writer, as a
    # single-worker service would do it; the fsync happens before the answer.
    cur = _db.execute(
        "INSERT INTO events (id, source, event_type, dedupe_key, received_at, payload)"
        " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(dedupe_key) DO NOTHING",
        (event_id, SOURCE, DEFAULT_EVENT, key, time.time(), body),
    )
    if cur.rowcount == 0:
        row = _db.execute("SELECT id FROM events WHERE dedupe_key = ?", (key,)).fetchone()
        return _reply(200, {"id": row[0] if row else None, "status": "duplicate"})
    return _reply(200, {"id": event_id, "status": "accepted"})


if __name__ == "__main__":
    import argparse

    import uvicorn

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mode", choices=("memory", "sqlite"), default=MODE)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=18084)
    ap.add_argument("--db", default=DB_PATH)
    args = ap.parse_args()
    os.environ["BENCH_RECEIVER_MODE"] = args.mode
    os.environ["BENCH_DB"] = args.db
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    uvicorn.run("fastapi_receiver:app", host=args.host, port=args.port, workers=1,
                log_level="warning", access_log=False)
