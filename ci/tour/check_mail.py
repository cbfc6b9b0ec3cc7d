"""Checks the messages a real SMTP server took during the README's tour.

    python3 ci/tour/check_mail.py MAILDIR --client EMAIL --clinic EMAIL --dob YYYY-MM-DD

The tour books a consultation, moves it while the deposit is pending, records the
deposit as paid and cancels in good time. The server sent its notifications to an
SMTP server process (aiosmtpd, storing each message in MAILDIR). This waits (up to
--wait seconds) until the client has the cancellation (after its other messages:
received, moved, confirmed; the first may be skipped if the deposit was paid before it
went, the confirmation withdrawn if the cancellation came first) and the clinic its
two alerts, then checks what they say: every message
in plain text and HTML, sent once (no Message-ID twice); the confirmation carries a
calendar event (METHOD:REQUEST; the moved message too when it went after the deposit),
the cancellation the same event's cancellation (METHOD:CANCEL, the same UID, a
SEQUENCE above every earlier one); no message carries the date of birth.
Exit status 0 when every check holds; otherwise each failure is printed.
"""

import argparse
import email
import email.policy
import os
import sys
import time


def messages(maildir):
    out = []
    for sub in ("new", "cur"):
        folder = os.path.join(maildir, sub)
        if not os.path.isdir(folder):
            continue
        for name in sorted(os.listdir(folder)):
            with open(os.path.join(folder, name), "rb") as f:
                out.append(email.message_from_binary_file(f, policy=email.policy.default))
    return out


def recipients(m):
    return {a.addr_spec.lower() for h in ("To", "Cc") for a in (m[h].addresses if m[h] else ())}


def calendar(m):
    """The attached calendar's fields (METHOD, UID, SEQUENCE), or None."""
    for part in m.walk():
        if part.get_content_type() == "text/calendar":
            text = part.get_content()
            if isinstance(text, bytes):
                text = text.decode()
            fields = {}
            for line in text.replace("\r\n ", "").splitlines():
                key, _, value = line.partition(":")
                fields.setdefault(key.split(";")[0], value)
            return fields
    return None


def body_types(m):
    return {p.get_content_type() for p in m.walk() if not p.is_multipart()}


def text_of(m):
    parts = []
    for p in m.walk():
        if not p.is_multipart():
            c = p.get_content()
            parts.append(c.decode(errors="replace") if isinstance(c, bytes) else c)
    return "\n".join(parts)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("maildir")
    p.add_argument("--client", required=True)
    p.add_argument("--clinic", required=True)
    p.add_argument("--dob", required=True)
    p.add_argument("--wait", type=float, default=30)
    a = p.parse_args()
    client, clinic = a.client.lower(), a.clinic.lower()

    deadline = time.time() + a.wait
    while True:
        got = messages(a.maildir)
        to_client = [m for m in got if client in recipients(m)]
        to_clinic = [m for m in got if clinic in recipients(m)]
        methods = {(calendar(m) or {}).get("METHOD") for m in to_client}
        if (len(to_client) >= 2 and len(to_clinic) >= 2 and "CANCEL" in methods) \
                or time.time() > deadline:
            break
        time.sleep(0.25)

    failures = []
    print(f"mail: {len(got)} messages: {len(to_client)} to the client, {len(to_clinic)} to the clinic")
    for m in got:
        cal = calendar(m)
        print(f"  to {', '.join(sorted(recipients(m)))}: {m['Subject']}"
              + (f" [calendar {cal.get('METHOD')} SEQUENCE {cal.get('SEQUENCE')}]" if cal else ""))
    # The "received" message may rightly be skipped when the deposit was
    # recorded before the worker got to it, and the confirmation withdrawn
    # when the cancellation came first; the move and the cancellation may not.
    if len(to_client) < 2:
        failures.append(f"the client got {len(to_client)} messages; want at least moved and cancelled")
    if len(to_clinic) < 2:
        failures.append(f"the clinic got {len(to_clinic)} alerts; want the new booking and the cancellation")
    ids = [m["Message-ID"] for m in got]
    if len(set(ids)) != len(ids) or None in ids:
        failures.append(f"Message-IDs missing or repeated: {ids}")
    for m in got:
        types = body_types(m)
        if not {"text/plain", "text/html"} <= types:
            failures.append(f"{m['Subject']!r} is not plain text and HTML: {sorted(types)}")
        if a.dob in text_of(m):
            failures.append(f"{m['Subject']!r} carries the date of birth")
        if not m["From"]:
            failures.append(f"{m['Subject']!r} has no From")
    requests = [calendar(m) for m in to_client if (calendar(m) or {}).get("METHOD") == "REQUEST"]
    cancels = [calendar(m) for m in to_client if (calendar(m) or {}).get("METHOD") == "CANCEL"]
    # The confirmation carries the event, and the "moved" message does too
    # when it goes once the booking is confirmed (messages are rendered from
    # the booking as it is when they go). A confirmation still pending when
    # the tour's cancellation follows is withdrawn (`dropped`), rightly: so
    # a REQUEST is not required, but every event must be the one booking's.
    if len(cancels) != 1:
        failures.append(f"{len(cancels)} calendar CANCELs to the client; want one (the cancellation)")
    if len(cancels) == 1:
        can = cancels[0]
        uids = {c.get("UID") for c in requests + cancels}
        if len(uids) != 1 or None in uids:
            failures.append(f"the events do not share one UID: {sorted(map(str, uids))}")
        try:
            top = max((int(r.get("SEQUENCE", "0")) for r in requests), default=1)
            if int(can.get("SEQUENCE", "-1")) <= top:
                failures.append(f"the cancellation's SEQUENCE {can.get('SEQUENCE')} is not above "
                                f"the event's {top} (the booking was moved once, then cancelled)")
            if min((int(r.get("SEQUENCE", "0")) for r in requests), default=1) < 1:
                failures.append("an event of a moved booking has SEQUENCE 0")
        except ValueError:
            failures.append("a SEQUENCE is not a number")
    for f in failures:
        print(f"mail: FAILED: {f}", file=sys.stderr)
    if not failures:
        print("mail: every message the tour caused arrived once, and says what it should")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
