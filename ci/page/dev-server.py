#!/usr/bin/env python3
"""DEVELOPMENT AID ONLY: not part of the product, never deploy it.

The binary embeds web/ (src/api/page.rs), so a change to the page needs a
rebuild. In front of a running binary, this serves web/ from disk instead,
so that an edit shows on reload:

  GET /            web/index.html
  GET /embed       web/index.html (the page drops its header and footer there)
  GET /manage      web/manage.html
  GET /assets/F    web/F (flat folder), with its content type
  GET /v1/clinic   with --clinic-json FILE: that file (to try other settings)
  anything else    reverse-proxied to the running binary (--upstream)

Page responses carry the Content-Security-Policy and Referrer-Policy that the
real server sends, so that a page breaking the CSP fails here too.

  python3 ci/page/dev-server.py --upstream http://127.0.0.1:18080 --port 18081

Python standard library only. Listens on loopback only.
"""

import argparse
import http.client
import http.server
import json
import pathlib
import sys
import urllib.parse

WEB = pathlib.Path(__file__).resolve().parent.parent.parent / "web"

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".json": "application/json",
    ".txt": "text/plain; charset=utf-8",
}

# GET /v1/clinic as a fresh binary answers it (ClinicSettings in the OpenAPI document).
DEFAULT_CLINIC = {
    "name": "JB Cosmetic",
    "address": None,
    "phone": None,
    "email": None,
    "timezone": "Europe/London",
    "minimum_age": 18,
    "deposit": {"amount": 2500, "currency": "GBP"},
    "cancellation_notice_hours": 48,
    "hold_minutes": 15,
    "consultation_minutes": 30,
    "payment": {
        "provider": "manual",
        "stripe_publishable_key": None,
        "manual_instructions": "The clinic will call you to take the deposit by card over the phone, or you can pay at the desk.",
    },
    "branding": {"primary_colour": "#5b3a70", "accent_colour": "#c9a227", "logo_url": None},
}

HOP_BY_HOP = {
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization",
    "te", "trailers", "transfer-encoding", "upgrade", "content-length", "host",
}


def page_csp(logo_origin, frame_ancestors):
    img = "img-src 'self' data:" + (f" {logo_origin}" if logo_origin else "")
    csp = (
        "default-src 'self'; script-src 'self' https://js.stripe.com; "
        "frame-src https://js.stripe.com https://hooks.stripe.com; "
        "connect-src 'self' https://api.stripe.com; "
        f"{img}; style-src 'self'; form-action 'self'; base-uri 'none'"
    )
    if frame_ancestors:
        csp += f"; frame-ancestors {frame_ancestors}"
    return csp


class Handler(http.server.BaseHTTPRequestHandler):
    server_version = "clinic-page-dev"
    protocol_version = "HTTP/1.1"
    # Set in main().
    upstream = ("127.0.0.1", 18080)
    clinic = DEFAULT_CLINIC
    clinic_override = False
    embed_ancestors = "'self'"

    def log_message(self, fmt, *args):
        # Method and path only: never the query string (it could hold search text).
        sys.stderr.write(f"dev-server: {self.command} {self.path.split('?')[0]} {args[1] if len(args) > 1 else ''}\n")

    # --- routes ----------------------------------------------------------

    def do_GET(self):
        path = urllib.parse.urlsplit(self.path).path
        if path in ("/", "/embed"):
            return self.page("index.html", embed=path == "/embed")
        if path == "/manage":
            return self.page("manage.html", embed=False)
        if path.startswith("/assets/"):
            return self.asset(path[len("/assets/"):])
        if path == "/v1/clinic" and self.clinic_override:
            body = json.dumps(self.clinic).encode()
            return self.send(200, body, {"Content-Type": "application/json", "Cache-Control": "no-cache"})
        return self.proxy()

    def do_HEAD(self):
        return self.do_GET()

    def do_POST(self):
        return self.proxy()

    def do_PUT(self):
        return self.proxy()

    def do_DELETE(self):
        return self.proxy()

    def do_PATCH(self):
        return self.proxy()

    def do_OPTIONS(self):
        return self.proxy()

    # --- helpers ---------------------------------------------------------

    def page(self, name, embed):
        logo = self.clinic.get("branding", {}).get("logo_url")
        origin = None
        if logo and "://" in logo:
            parts = urllib.parse.urlsplit(logo)
            origin = f"{parts.scheme}://{parts.netloc}"
        headers = {
            "Content-Type": CONTENT_TYPES[".html"],
            "Content-Security-Policy": page_csp(origin, self.embed_ancestors if embed else "'none'"),
            "Referrer-Policy": "no-referrer",
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "no-cache",
        }
        self.send(200, (WEB / name).read_bytes(), headers)

    def asset(self, name):
        # Flat folder: no subfolders, no hidden files, no way out of web/.
        if not name or "/" in name or "\\" in name or name.startswith(".") or name.endswith(".html"):
            return self.send(404, b"not found\n", {"Content-Type": "text/plain"})
        file = WEB / name
        ctype = CONTENT_TYPES.get(file.suffix)
        if not file.is_file() or ctype is None:
            return self.send(404, b"not found\n", {"Content-Type": "text/plain"})
        self.send(200, file.read_bytes(), {"Content-Type": ctype, "Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"})

    def send(self, status, body, headers):
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def proxy(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
        conn = http.client.HTTPConnection(*self.upstream, timeout=30)
        try:
            conn.request(self.command, self.path, body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
        except OSError as err:
            msg = json.dumps({
                "type": "about:blank", "title": "Bad gateway", "status": 502, "code": "dev_server_upstream",
                "detail": f"The development server could not reach the API ({err.__class__.__name__}).",
            }).encode()
            return self.send(502, msg, {"Content-Type": "application/problem+json"})
        finally:
            conn.close()
        self.send_response(resp.status, resp.reason)
        for k, v in resp.getheaders():
            if k.lower() not in HOP_BY_HOP:
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)


def main():
    ap = argparse.ArgumentParser(description="Development server for web/ (development aid only).")
    ap.add_argument("--upstream", default="http://127.0.0.1:18080", help="the running clinic-api")
    ap.add_argument("--port", type=int, default=18081, help="port to listen on (127.0.0.1)")
    ap.add_argument("--clinic-json", help="a file with the GET /v1/clinic answer to use instead of the default")
    ap.add_argument("--embed-ancestors", default="'self'", help="frame-ancestors sent on /embed")
    args = ap.parse_args()

    up = urllib.parse.urlsplit(args.upstream)
    if up.scheme != "http" or up.hostname not in ("127.0.0.1", "localhost", "::1"):
        ap.error("--upstream must be an http:// loopback URL")
    Handler.upstream = (up.hostname, up.port or 80)
    if args.clinic_json:
        Handler.clinic = json.loads(pathlib.Path(args.clinic_json).read_text())
        Handler.clinic_override = True
    Handler.embed_ancestors = args.embed_ancestors

    server = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    print(f"dev-server: DEVELOPMENT AID ONLY, serving web/ on http://127.0.0.1:{server.server_address[1]} "
          f"(API: {args.upstream})", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
