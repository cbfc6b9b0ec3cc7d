#!/usr/bin/env python3
"""Every distinct schemathesis failure of a run, grouped, with the shortest reproduction.

    python3 ci/contract/failures.py test-output/contract/schemathesis/ndjson-*.ndjson [API_KEY]

schemathesis prints one example per kind of failure and operation; after that
is fixed the next rule of the same operation shows up. This reads the NDJSON
report (every case, every check) and lists each distinct failure: operation,
check, status, problem `code` and the `errors` (field:code) of the answer,
with how often it happened and the shortest request that reproduced it, as a
curl command against $BASE with $KEY in place of the run's API key. The
list is written as Markdown to stdout. It never changes the verdict of the run.
"""

from __future__ import annotations

import base64
import json
import shlex
import sys
from collections import OrderedDict
from urllib.parse import urlsplit


def decode(blob: dict | None) -> str:
    if not blob:
        return ""
    if "$base64" in blob:
        return base64.b64decode(blob["$base64"]).decode("utf-8", "replace")
    return blob.get("string", "")


def problem_of(text: str) -> tuple[str, str]:
    try:
        doc = json.loads(text)
    except ValueError:
        return "", ""
    if not isinstance(doc, dict):
        return "", ""
    errors = doc.get("errors") or []
    fields = ", ".join(f"{e.get('field')}:{e.get('code')}" for e in errors if isinstance(e, dict))
    return str(doc.get("code", "")), fields


def curl(request: dict, api_key: str | None) -> str:
    parts = urlsplit(request["uri"])
    url = "$BASE" + parts.path + (f"?{parts.query}" if parts.query else "")
    words = ["curl", "-sS", "-i", "-X", request["method"]]
    for name, values in (request.get("headers") or {}).items():
        if name.lower() in ("user-agent", "accept", "accept-encoding", "connection", "content-length"):
            continue
        if name.lower().startswith("x-schemathesis"):
            continue
        for value in values:
            words += ["-H", f"{name}: {value}"]
    body = decode(request.get("body"))
    if body:
        words += ["--data-raw", body]
    command = " ".join(shlex.quote(w) for w in words) + f' "{url}"'
    if api_key:
        command = command.replace(api_key, "'\"$KEY\"'")
    return command


def main() -> int:
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    path = sys.argv[1]
    api_key = sys.argv[2] if len(sys.argv) > 2 else None
    groups: OrderedDict[tuple, dict] = OrderedDict()
    cases_seen = 0
    with open(path, encoding="utf-8") as events:
        for line in events:
            event = json.loads(line)
            finished = event.get("ScenarioFinished")
            if not finished:
                continue
            recorder = finished.get("recorder") or {}
            cases = recorder.get("cases") or {}
            interactions = recorder.get("interactions") or {}
            cases_seen += len(cases)
            for case_id, checks in (recorder.get("checks") or {}).items():
                for check in checks:
                    if check.get("status") != "failure":
                        continue
                    interaction = interactions.get(case_id) or {}
                    request = interaction.get("request")
                    response = interaction.get("response") or {}
                    if request is None:
                        continue
                    status = response.get("status_code")
                    code, fields = problem_of(decode(response.get("content")))
                    case = (cases.get(case_id) or {}).get("value") or {}
                    operation = f"{case.get('method', request['method'])} {case.get('path', urlsplit(request['uri']).path)}"
                    key = (operation, check["name"], status, code, fields)
                    reproduction = curl(request, api_key)
                    group = groups.setdefault(key, {"count": 0, "curl": reproduction, "case": case_id,
                                                    "phase": finished.get("phase")})
                    group["count"] += 1
                    if len(reproduction) < len(group["curl"]):
                        group.update(curl=reproduction, case=case_id, phase=finished.get("phase"))

    print(f"# schemathesis failures: {len(groups)} distinct, from {cases_seen} recorded cases\n")
    print("Reproduce with BASE=http://127.0.0.1:PORT and KEY=ck_… of a running server.\n")
    for (operation, check, status, code, fields), group in sorted(groups.items()):
        detail = " ".join(x for x in (code, f"[{fields}]" if fields else "") if x)
        print(f"## {operation} — {check} — {status} {detail}".rstrip())
        print(f"{group['count']} case(s); phase {group['phase']}; case {group['case']}\n")
        command = group["curl"]
        if len(command) > 4000:
            command = command[:4000] + " …(truncated)"
        print(f"```sh\n{command}\n```\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
