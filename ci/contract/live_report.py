#!/usr/bin/env python3
"""What the operations behind a booking answered in a schemathesis run.

    python3 ci/contract/live_report.py NDJSON-REPORT LIVE-DATA-JSON

Reads schemathesis's NDJSON report (every request and answer) and what
hooks.py wrote (the live values it put in), and prints, as Markdown, per
operation: the requests sent, how many carried a live resource, and the
answers by status. Exits 1 when an operation behind a booking got no live
resource at all, or never answered anything but 404 — the fuzzing would no
longer reach the core, whatever schemathesis says.
"""

from __future__ import annotations

import json
import sys
from collections import Counter, defaultdict
from urllib.parse import urlsplit

# The operations that need a booking (or what one makes) to answer other
# than 404, with their method and path template.
BEHIND_A_BOOKING = {
    "createConsultation": "POST /v1/consultations",
    "getConsultation": "GET /v1/consultations/{id}",
    "getConsultationCalendar": "GET /v1/consultations/{id}/calendar.ics",
    "getConsultationScreening": "GET /v1/consultations/{id}/screening",
    "cancelConsultation": "POST /v1/consultations/{id}/cancel",
    "rescheduleConsultation": "POST /v1/consultations/{id}/reschedule",
    "markConsultationAttended": "POST /v1/consultations/{id}/attended",
    "markConsultationNoShow": "POST /v1/consultations/{id}/no-show",
    "getDeposit": "GET /v1/deposits/{id}",
    "recordDepositPayment": "POST /v1/deposits/{id}/payments",
    "redeemDeposit": "POST /v1/deposits/{id}/redemptions",
    "refundDeposit": "POST /v1/deposits/{id}/refund",
    "getClient": "GET /v1/clients/{id}",
    "exportClient": "GET /v1/clients/{id}/export",
    "eraseClient": "POST /v1/clients/{id}/erasure",
    "listWebhookDeliveries": "GET /v1/webhook-endpoints/{id}/deliveries",
    "replayWebhookDelivery": "POST /v1/webhook-endpoints/{id}/deliveries/{delivery_id}/replay",
}


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    statuses: dict[str, Counter] = defaultdict(Counter)
    with open(sys.argv[1], encoding="utf-8") as events:
        for line in events:
            finished = json.loads(line).get("ScenarioFinished")
            if not finished:
                continue
            recorder = finished.get("recorder") or {}
            cases = recorder.get("cases") or {}
            for case_id, interaction in (recorder.get("interactions") or {}).items():
                request = interaction.get("request") or {}
                case = (cases.get(case_id) or {}).get("value") or {}
                label = f"{case.get('method', request.get('method'))} {case.get('path', urlsplit(request.get('uri', '')).path)}"
                status = (interaction.get("response") or {}).get("status_code")
                statuses[label][status] += 1
    try:
        with open(sys.argv[2], encoding="utf-8") as f:
            live = json.load(f)
    except (OSError, ValueError):
        live = {"substitutions": {}}
    used = live.get("substitutions", {})
    print("# Live data in the schemathesis run\n")
    print(f"{live.get('fixture_bookings', 0)} fixture bookings; the rehearsal clock moved "
          f"{live.get('refills', 0)} times for bookings whose time had come.\n")
    print("| operation | requests | live id in the path | live values in the body | answers |")
    print("|---|---:|---:|---:|---|")
    failed = []
    reached = 0
    for op, label in BEHIND_A_BOOKING.items():
        answers = statuses.get(label, Counter())
        total = sum(answers.values())
        in_path, in_body = used.get(f"{op} path", 0), used.get(f"{op} body", 0)
        live_values = in_path + in_body
        tokens = used.get(f"{op} manage token", 0)
        shown = " ".join(f"{s}:{n}" for s, n in sorted(answers.items(), key=lambda x: str(x[0])))
        note = f"{in_path}" + (f" ({tokens} with its manage token)" if tokens else "")
        print(f"| `{op}` | {total} | {note} | {in_body} | {shown} |")
        if live_values == 0 or not any(s != 404 for s in answers):
            failed.append(op)
        else:
            reached += 1
    errors = {k: v for k, v in used.items() if k.startswith("fixture error")}
    if errors:
        print("\nFixtures that failed (the case went as generated):\n")
        for what, n in errors.items():
            print(f"- {n}× {what}")
    print(f"\n{reached} of {len(BEHIND_A_BOOKING)} operations behind a booking reached with live resources.")
    if failed:
        print(f"\nNot reached with live resources: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
