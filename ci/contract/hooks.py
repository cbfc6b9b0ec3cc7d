"""Live data for the schemathesis step of ci/contract/run.sh.

Loaded by schemathesis (`hooks` in schemathesis.toml, through the
SCHEMATHESIS_HOOKS variable run.sh sets), with BASE_URL and API_KEY (an admin
key) from run.sh. It does two things:

1. Authenticates every generated request with the admin key (a programmatic
   auth provider, so schemathesis knows the credentials are explicit: its
   `ignored_auth` probes remove them and expect 401).

2. Gives the operations behind a booking real resources. Random ids only
   ever answer 404, and a booking cannot be generated at all (it needs a
   single-use screening token, a free slot and the screened date of birth),
   so without this the booking and deposit logic is barely fuzzed. Before
   each generated request is sent (`before_call`), when the part of the
   request schemathesis generated as valid data names a resource, the hook
   puts in a live one of the right kind, made through the API itself:

   - bookings (`/v1/consultations/{id}/…`): pending, paid, moved, cancelled,
     and — on the rehearsal clock run.sh starts the server with
     (DEMO_CLOCK=true) — bookings whose time has come, to mark attended or a
     no-show; the holder's manage token instead of the key, half the time,
     where the operation takes one;
   - deposits (`/v1/deposits/{id}/…`): unpaid ones to record a payment on,
     paid deposits of attended bookings to redeem or refund;
   - client records (`/v1/clients/{id}`, export, erasure: clients with
     nothing live, so that erasure can go through, and others it must
     refuse);
   - a webhook endpoint with real deliveries (`…/deliveries`, replay);
   - in bodies: a fresh screening token, a free slot and the screened date of
     birth for `POST /v1/consultations`, a free slot for reschedule, a real
     treatment for redemption; a unique `Idempotency-Key` (the same key with
     another body is 422 by design, which valid data cannot avoid otherwise).

   Parts schemathesis generated as invalid data are left alone (so negative
   testing still sees what it made), as are ids the stateful phase took from
   earlier answers, and about one valid id in eight keeps its random value
   (the 404 path stays fuzzed). schemathesis re-checks every case after the
   hook, so what it sends is still judged as valid or invalid correctly.
   The fixtures' own practitioner and webhook endpoint are kept out of the
   way of generated writes that would switch them off.

At exit it writes what it did — live values put in, per operation and
part, and any fixture that failed — to $CONTRACT_LIVE_REPORT as JSON;
run.sh fails the step when an operation behind a booking got none.
"""

from __future__ import annotations

import atexit
import json
import os
import random
import threading
import uuid
from collections import Counter, deque
from datetime import datetime, timedelta

import requests
import schemathesis
from schemathesis.core.parameters import ParameterLocation
from schemathesis.generation.meta import TestPhase

BASE = os.environ["BASE_URL"]
KEY = os.environ["API_KEY"]
REPORT = os.environ.get("CONTRACT_LIVE_REPORT")
DOB = "1990-04-12"
EVENT_TYPES = [
    "consultation.created", "consultation.confirmed", "consultation.rescheduled",
    "consultation.cancelled", "consultation.expired", "consultation.attended",
    "consultation.no_show", "deposit.paid", "deposit.refunded", "deposit.redeemed",
    "deposit.forfeited",
]
# Deterministic given the run's order of cases (one worker, fixed seed).
rng = random.Random(20261125)
http = requests.Session()
lock = threading.Lock()
used = Counter()


class FixtureError(RuntimeError):
    pass


def api(method: str, path: str, *, token: str | None = KEY, expect=(200, 201, 202), **kwargs):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = http.request(method, BASE + path, headers=headers, timeout=20, **kwargs)
    if response.status_code not in expect:
        raise FixtureError(f"{method} {path}: {response.status_code} {response.text[:300]}")
    return response.json() if response.content else None


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


class Live:
    """The live resources, made on first use and topped up as they are used up."""

    def __init__(self) -> None:
        self.ready = False
        self.broken = ""
        self.count = 0
        self.slots: deque = deque()
        self.next_from: str | None = None
        self.bookings: list[dict] = []  # every fixture booking, any state
        self.future: list[dict] = []  # made since the clock last moved
        self.started: list[dict] = []  # confirmed, start passed: attended / no-show
        self.attended: list[dict] = []  # attended, deposit paid: redeem / refund
        self.refills = 0
        self.deliveries: list[str] = []

    # -- setup --------------------------------------------------------------

    def setup(self) -> None:
        if self.ready:
            return
        if self.broken:
            raise FixtureError(f"setup failed: {self.broken}")
        try:
            self._setup()
        except Exception as e:
            self.broken = str(e)[:200]
            raise
        self.ready = True

    def _setup(self) -> None:
        self.seed_practitioner = api("GET", "/v1/practitioners")["items"][0]["id"]
        self.treatment = api("GET", "/v1/treatments")["items"][0]["id"]
        # A practitioner of the fixtures' own, open every day: the generated
        # requests change the seeded one's hours and closures as they like.
        self.practitioner = api(
            "POST", "/v1/practitioners",
            json={"name": "Contract fixtures", "title": "Live data for the contract run"},
        )["id"]
        windows = [
            {"weekday": day, "opens": "00:00", "closes": "23:55"}
            for day in ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
        ]
        api("PUT", f"/v1/practitioners/{self.practitioner}/opening-hours", json={"windows": windows})
        # A subscriber to every event, at a name that never resolves
        # (RFC 6761 .invalid): deliveries are logged and fail, nothing leaves.
        self.endpoint = api(
            "POST", "/v1/webhook-endpoints",
            json={"url": "https://receiver.contract.invalid/hooks", "event_types": EVENT_TYPES},
        )["id"]
        self.refill_started()
        for _ in range(4):
            self.bookings.append(self.book(paid=False))
            self.bookings.append(self.book(paid=True))

    # -- slots and bookings -------------------------------------------------

    def slot(self, after: datetime | None = None) -> dict:
        """The fixtures' practitioner's earliest free slot not handed out yet
        (starting at or after `after`, when given)."""
        for _ in range(3):  # 31 days a request; the booking horizon is 60
            if after is not None:
                for i, s in enumerate(self.slots):
                    if parse_time(s["starts_at"]) >= after:
                        found = self.slots[i]
                        del self.slots[i]
                        return found
            elif self.slots:
                break
            query = {"practitioner_id": self.practitioner}
            if self.next_from:
                query["from"] = self.next_from
            found = api("GET", "/v1/availability", token=None, params=query,
                        expect=(200, 422))
            if "slots" not in found:
                break  # past the horizon
            self.slots.extend(found["slots"])
            last = datetime.fromisoformat(found["to"]).date()
            self.next_from = (last + timedelta(days=1)).isoformat()
        if not self.slots or after is not None:
            self.next_from = None
            raise FixtureError("no free slot")
        return self.slots.popleft()

    def skip_day(self, slot: dict) -> None:
        """Drops the queued slots of a day a closure seems to cover."""
        day = slot["local_starts_at"][:10]
        self.slots = deque(s for s in self.slots if s["local_starts_at"][:10] != day)

    def now(self) -> datetime:
        return parse_time(api("GET", "/demo/clock")["now"])

    def screening_token(self, day: str) -> str:
        answer = api(
            "POST", "/v1/screenings", token=None,
            json={"date_of_birth": DOB, "pregnant": False, "breastfeeding": False,
                  "autoimmune_condition": False, "active_infection_at_site": False,
                  "other_medical_conditions": False, "appointment_date": day},
        )
        return answer["screening_token"]

    def book(self, *, paid: bool, after: datetime | None = None) -> dict:
        refused = ""
        for _ in range(8):
            slot = self.slot(after)
            self.count += 1
            n = self.count
            body = {
                "client": {"full_name": f"Fixture Client {n}", "email": f"fixture{n}@contract.example",
                           "phone": f"+44 7700 9{n % 100000:05d}", "date_of_birth": DOB},
                "screening_token": self.screening_token(slot["local_starts_at"][:10]),
                "practitioner_id": slot["practitioner_id"],
                "starts_at": slot["starts_at"],
                "treatment_id": self.treatment,
                "notes": "Made by ci/contract/hooks.py",
                "accept_cancellation_policy": True,
            }
            response = http.post(BASE + "/v1/consultations", json=body,
                                 headers={"Authorization": f"Bearer {KEY}"}, timeout=20)
            if response.status_code in (409, 422):
                # The slot went, or a generated closure covers its day.
                if response.status_code == 422:
                    self.skip_day(slot)
                refused = response.text[:200]
                continue
            if response.status_code != 201:
                raise FixtureError(f"booking: {response.status_code} {response.text[:300]}")
            made = response.json()
            booking = {"id": made["id"], "token": made["manage_token"], "deposit": made["deposit"]["id"],
                       "email": body["client"]["email"], "starts_at": made["starts_at"],
                       "ends_at": made["ends_at"], "paid": False}
            if paid:
                api("POST", f"/v1/deposits/{booking['deposit']}/payments",
                    json={"reference": "Contract fixture"}, expect=(200, 409))
                booking["paid"] = True
            self.future.append(booking)
            return booking
        raise FixtureError(f"no slot could be booked: {refused}")

    def refill_started(self) -> None:
        """Paid bookings, then the rehearsal clock moved past them: half are
        left to be marked attended or a no-show, half marked attended, their
        deposits to be redeemed or refunded."""
        made = [self.book(paid=True) for _ in range(10)]
        latest = max(parse_time(b["ends_at"]) for b in made)
        api("POST", "/demo/clock", json={"to": (latest + timedelta(minutes=1)).isoformat()})
        # Slots found before the move are in the past now.
        self.slots.clear()
        self.next_from = None
        self.future = []
        self.bookings.extend(made)
        for b in made[:5]:
            api("POST", f"/v1/consultations/{b['id']}/attended", expect=(200, 409))
        self.attended.extend(made[:5])
        self.started.extend(made[5:])
        self.refills += 1

    def take(self, stock: list[dict]) -> dict:
        if not stock and self.refills < 8:
            self.refill_started()
        if stock:
            return stock.pop(0)
        return rng.choice(self.bookings)

    def client_id(self, booking: dict) -> str:
        if "client" not in booking:
            found = api("GET", "/v1/clients", params={"q": booking["email"]})["items"]
            if not found:
                raise FixtureError(f"no client for {booking['email']}")
            booking["client"] = found[0]["id"]
        return booking["client"]

    def erasable_client(self) -> str:
        """A client with nothing live: booked, then cancelled."""
        booking = self.book(paid=False)
        api("POST", f"/v1/consultations/{booking['id']}/cancel", json={"reason": "Contract fixture"},
            expect=(200, 409))
        self.bookings.append(booking)
        return self.client_id(booking)

    def delivery(self) -> str:
        if not self.deliveries or rng.random() < 0.05:
            items = api("GET", f"/v1/webhook-endpoints/{self.endpoint}/deliveries", params={"limit": 100})["items"]
            self.deliveries = [d["id"] for d in items]
        if not self.deliveries:
            raise FixtureError("no deliveries yet")
        return rng.choice(self.deliveries)


live = Live()


# -- the plan, per operation ---------------------------------------------------

def fresh(paid: bool) -> dict:
    b = live.book(paid=paid)
    live.bookings.append(b)
    return b


def any_booking() -> dict:
    return rng.choice(live.bookings)


def moveable() -> dict:
    """A booking its holder may still move: half the time a new one beyond
    the cancellation notice (48 hours, with room), else one made since the
    clock last moved that is not known to be cancelled."""
    if rng.random() < 0.5 or not live.future:
        b = live.book(paid=rng.random() < 0.5, after=live.now() + timedelta(hours=50))
        live.bookings.append(b)
        return b
    return rng.choice(live.future)


# operationId -> (path parameter -> live value, booking whose manage token may stand in for the key)
def plan(op: str) -> tuple[dict[str, str], dict | None] | None:
    if op in ("getConsultation", "getConsultationCalendar", "getConsultationScreening"):
        b = any_booking()
        return {"id": b["id"]}, b
    if op == "cancelConsultation":
        b = fresh(paid=rng.random() < 0.5) if rng.random() < 0.7 else any_booking()
        return {"id": b["id"]}, b
    if op == "rescheduleConsultation":
        b = moveable()
        return {"id": b["id"]}, b
    if op in ("markConsultationAttended", "markConsultationNoShow"):
        b = live.take(live.started)
        return {"id": b["id"]}, None
    if op == "getDeposit":
        return {"id": any_booking()["deposit"]}, None
    if op == "recordDepositPayment":
        b = fresh(paid=False) if rng.random() < 0.8 else any_booking()
        return {"id": b["deposit"]}, None
    if op in ("redeemDeposit", "refundDeposit"):
        return {"id": live.take(live.attended)["deposit"]}, None
    if op in ("getClient", "exportClient"):
        return {"id": live.client_id(any_booking())}, None
    if op == "eraseClient":
        cid = live.erasable_client() if rng.random() < 0.6 else live.client_id(any_booking())
        return {"id": cid}, None
    if op == "listWebhookDeliveries":
        return {"id": live.endpoint}, None
    if op == "replayWebhookDelivery":
        return {"id": live.endpoint, "delivery_id": live.delivery()}, None
    return None


MANAGE_TOKEN_OPERATIONS = {"getConsultation", "getConsultationCalendar", "cancelConsultation",
                           "rescheduleConsultation"}


def fill_body(op: str, body: dict) -> bool:
    """Puts live values into a valid generated body; True when it changed."""
    if op == "createConsultation":
        slot = live.slot()
        body["screening_token"] = live.screening_token(slot["local_starts_at"][:10])
        body["practitioner_id"] = slot["practitioner_id"]
        body["starts_at"] = slot["starts_at"]
        if isinstance(body.get("client"), dict):
            body["client"]["date_of_birth"] = DOB
            # Half the time a contact of its own: the documented example's
            # contact soon holds as many unpaid slots as one contact may.
            if rng.random() < 0.5:
                live.count += 1
                body["client"]["email"] = f"generated{live.count}@contract.example"
                body["client"]["phone"] = f"+44 7700 8{live.count % 100000:05d}"
        if body.get("treatment_id") is not None:
            body["treatment_id"] = live.treatment
        return True
    if op == "rescheduleConsultation":
        slot = live.slot()
        body["starts_at"] = slot["starts_at"]
        if body.get("practitioner_id") is not None:
            body["practitioner_id"] = slot["practitioner_id"]
        return True
    if op == "redeemDeposit":
        body["treatment_id"] = live.treatment
        return True
    return False


def protect(op: str, case, meta=None, **_) -> None:
    """Keeps generated writes off the fixtures' practitioner and endpoint."""
    if not live.ready:
        return
    params = case.path_parameters or {}
    if op in ("updatePractitioner", "setOpeningHours") and params.get("id") == live.practitioner:
        case.path_parameters = {**params, "id": live.seed_practitioner}
    if op in ("updateWebhookEndpoint", "deleteWebhookEndpoint") and params.get("id") == live.endpoint:
        case.path_parameters = {**params, "id": str(uuid.UUID(int=rng.getrandbits(128), version=4))}
    if op == "createClosure" and isinstance(case.body, dict) and case.body.get("practitioner_id") == live.practitioner:
        case.body = {**case.body, "practitioner_id": live.seed_practitioner}


def drawn_from_answers(meta, name: str) -> bool:
    """An id the stateful phase took from an earlier answer: keep it."""
    return meta.phase.name == TestPhase.STATEFUL and any(
        d.location == "path" and d.parameter_name == name for d in meta.pool_draws
    )


@schemathesis.auth()
class AdminKey:
    """The admin key on every request (run.sh creates it)."""

    def get(self, case, context):
        return KEY

    def set(self, case, data, context):
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}


@schemathesis.hook
def before_call(context, case, kwargs):
    op = case.operation.schema.get_operation_id(case.operation)
    meta = case.meta
    if meta is None:
        return
    path_valid = not meta.is_negative_at(ParameterLocation.PATH)
    body_valid = not meta.is_negative_at(ParameterLocation.BODY)
    headers_valid = not meta.is_negative_at(ParameterLocation.HEADER)
    with lock:
        # The key first: it needs no fixture, so one that fails below cannot
        # leave a repeated key behind.
        key = (case.headers or {}).get("Idempotency-Key")
        if headers_valid and isinstance(key, str) and key:
            live.count += 1
            suffix = f".{live.count}"
            case.headers = {**case.headers, "Idempotency-Key": key[: 255 - len(suffix)] + suffix}
        for step in (protect, put_live_path, put_live_body):
            try:
                step(op, case, meta, path_valid=path_valid, body_valid=body_valid)
            except Exception as e:  # noqa: BLE001 - what a failed fixture would fill stays as generated
                used[f"fixture error: {type(e).__name__}: {str(e)[:160]}"] += 1


def put_live_path(op, case, meta, *, path_valid, **_):
    live.setup()
    if not path_valid or rng.random() >= 0.875:
        return
    chosen = plan(op)
    if chosen is None:
        return
    values, booking = chosen
    params = dict(case.path_parameters or {})
    changed = False
    for name, value in values.items():
        if name in params and not drawn_from_answers(meta, name):
            params[name] = value
            changed = True
    if not changed:
        return
    case.path_parameters = params
    used[f"{op} path"] += 1
    auth = (case.headers or {}).get("Authorization")
    if (booking is not None and op in MANAGE_TOKEN_OPERATIONS
            and auth == f"Bearer {KEY}" and rng.random() < 0.5):
        case.headers = {**case.headers, "Authorization": f"Bearer {booking['token']}"}
        used[f"{op} manage token"] += 1


def put_live_body(op, case, meta, *, body_valid, **_):
    if not body_valid or not isinstance(case.body, dict):
        return
    live.setup()
    body = json.loads(json.dumps(case.body))
    if fill_body(op, body):
        case.body = body
        used[f"{op} body"] += 1


@schemathesis.hook
def after_call(context, case, response):
    """Follows what the answers did to the fixtures."""
    op = case.operation.schema.get_operation_id(case.operation)
    if response.status_code != 200 or op not in ("cancelConsultation", "eraseClient"):
        return
    target = (case.path_parameters or {}).get("id")
    with lock:
        if op == "cancelConsultation":
            if isinstance(case.body, dict) and case.body.get("dry_run"):
                return
            live.future = [b for b in live.future if b["id"] != target]
        else:
            # An erased client is no longer found by their email.
            live.bookings = [b for b in live.bookings if b.get("client") != target] or live.bookings


def write_report() -> None:
    if REPORT:
        with open(REPORT, "w", encoding="utf-8") as out:
            json.dump({"refills": live.refills, "fixture_bookings": len(live.bookings),
                       "substitutions": dict(sorted(used.items()))}, out, indent=2)


atexit.register(write_report)
