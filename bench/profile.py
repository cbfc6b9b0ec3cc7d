#!/usr/bin/env python3
"""Where a booking's time goes, on SQLite (plus the SQL it sends, from PostgreSQL).

    python3 bench/profile.py --bin target/release/clinic-api \
        --loadgen bench/loadgen/target/release/loadgen [--skip-callgrind]

Seeds the same diary as bench.py once, saves the database, then runs short
booking experiments, each on a fresh copy of the saved database:

- clients:      bookings/s with 1, 4 and 32 clients (the SQLite write lock);
- idempotency:  with and without an Idempotency-Key (commits per booking);
- pool1:        DATABASE_POOL_SIZE=1 (writers queue in the pool, not in
                SQLite's busy handler);
- nofsync:      the server under eatmydata (fsync/fdatasync become no-ops),
                the upper bound of what removing durability cost would give;
- strace:       syscalls per booking (fdatasync, pwrite, nanosleep, futex);
- callgrind:    instructions per booking by function (valgrind; counts, not
                seconds, so a busy machine does not skew it);
- statements:   the SQL one screening + booking sends (PostgreSQL statement
                log of a scratch database), when psql is available.

Writes bench/out/profile/profile.json and the callgrind/strace outputs
beside it. Takes about 5 minutes. Loopback only, every run bounded.
"""

import argparse
import datetime as dt
import json
import os
import re
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402

log = bench.log


def drain_outbox(path, timeout_s=120):
    """Waits until the webhook worker has fanned out every outbox event
    (500 a second), so the experiments measure bookings, not the seed's
    backlog of events."""
    import sqlite3
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        with sqlite3.connect(path) as c:
            left = c.execute("SELECT COUNT(*) FROM outbox_events WHERE dispatched = 0").fetchone()[0]
        if left == 0:
            return
        time.sleep(0.5)
    bench.log(f"outbox still has {left} undispatched events after {timeout_s} s")


def copy_db(src, dst):
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(dst + suffix):
            os.unlink(dst + suffix)
        if os.path.exists(src + suffix):
            shutil.copy(src + suffix, dst + suffix)


def book(lg, base, pid, slots_file, clients, seconds, tag, idem=True, count=None):
    args = ["book", "--base", base, "--practitioner", pid, "--slots", slots_file, "--pick", "sequential",
            "--concurrency", clients, "--duration", seconds, "--tag", tag]
    if count:
        args += ["--count", count]
    if idem:
        args.append("--idempotency")
    return lg.run(*args)


def summary(r):
    return {"bookings_per_s": round(r["bookings_per_s"], 1), "booked": r["booked"],
            "booking_p50_ms": r["booking_ms"].get("p50"), "booking_p99_ms": r["booking_ms"].get("p99"),
            "screening_p50_ms": r["screening_ms"].get("p50"), "statuses": r["statuses"]}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bin", required=True)
    p.add_argument("--loadgen", required=True)
    p.add_argument("--workdir", default="bench/out/profile")
    p.add_argument("--seconds", type=float, default=8)
    p.add_argument("--skip-callgrind", action="store_true")
    p.add_argument("--only", default="clients,idempotency,pool1,nofsync,strace,callgrind,statements",
                   help="comma-separated experiments to run")
    p.add_argument("--pg-url", default=os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432"))
    args = p.parse_args()
    only = set(args.only.split(","))
    os.makedirs(args.workdir, exist_ok=True)
    wd = os.path.abspath(args.workdir)
    binary = os.path.abspath(args.bin)
    lg = bench.Loadgen(os.path.abspath(args.loadgen), wd)
    out = {"fsync_ms": bench.fsync_latency_ms(wd), "loadavg_start": os.getloadavg()}

    # Seed once.
    db = bench.Sqlite(wd)
    db.reset()
    seed_path = os.path.join(wd, "seeded.db")
    server = bench.Server(binary, db.url, wd)
    server.start()
    res = {}
    try:
        d = bench.setup_diary(server, db, lg, res)
        drain_outbox(db.path)
    finally:
        server.stop()
    copy_db(db.path, seed_path)
    pid, far = d["pid"], d["far"]
    out["seed_bookings_per_s"] = res["seed"]["bookings_per_s"]
    chunk = 6000
    pieces = [far[i:i + chunk] for i in range(0, len(far), chunk)]
    slots_file = lg.slots_file("profile-slots.txt", pieces[0])

    def experiment(name, extra_env=None, wrapper=None, clients=32, idem=True, seconds=None, count=None,
                   during=None):
        copy_db(seed_path, db.path)
        srv = bench.Server(binary, db.url, wd, extra_env=extra_env, wrapper=wrapper)
        srv.start()
        try:
            if during:
                during(srv)
            r = book(lg, srv.base, pid, slots_file, clients, seconds or args.seconds, name, idem, count)
        finally:
            srv.stop()
        log(f"{name}: {summary(r)}")
        return r, srv

    ex = out["experiments"] = {}
    if "clients" in only:
        for c in (1, 4, 32):
            ex[f"clients_{c}"] = summary(experiment(f"c{c}", clients=c)[0])
    if "idempotency" in only:
        ex["no_idempotency_key"] = summary(experiment("noidem", idem=False)[0])
    if "pool1" in only:
        ex["pool_size_1"] = summary(experiment("pool1", extra_env={"DATABASE_POOL_SIZE": "1"})[0])
    if "nofsync" in only and shutil.which("eatmydata"):
        ex["no_fsync_eatmydata"] = summary(experiment("nofsync", wrapper=["eatmydata"])[0])

    # Syscalls per booking.
    if "strace" in only and shutil.which("strace"):
        trace = os.path.join(wd, "strace.txt")
        holder = {}

        def attach(srv):
            holder["p"] = subprocess.Popen(["strace", "-f", "-c", "-o", trace, "-p", str(srv.proc.pid)],
                                           stderr=subprocess.DEVNULL)
            time.sleep(1)

        r, _ = experiment("strace", clients=32, seconds=30, count=400, during=attach)
        holder["p"].wait(timeout=60)
        calls = {}
        for line in open(trace):
            f = line.split()
            if len(f) >= 5 and f[0][0].isdigit() and f[-1] != "total":
                calls[f[-1]] = int(f[3])
        attempts = max(r["attempts"], 1)
        out["syscalls_per_booking_attempt"] = {
            k: round(v / attempts, 2) for k, v in sorted(calls.items(), key=lambda kv: -kv[1])[:15]}
        out["strace_booked"] = r["booked"]

    # Instructions per booking.
    if "callgrind" in only and not args.skip_callgrind and shutil.which("valgrind"):
        cg = os.path.join(wd, "callgrind.out")

        def on(srv):
            subprocess.run(["callgrind_control", "-i", "on", str(srv.proc.pid)], capture_output=True)

        r, _ = experiment("callgrind", clients=4, seconds=240, count=200, during=on,
                          wrapper=["valgrind", "--tool=callgrind", "--instr-atstart=no",
                                   f"--callgrind-out-file={cg}"])
        out["callgrind_booked"] = r["booked"]
        ann = subprocess.run(["callgrind_annotate", "--inclusive=yes", "--threshold=99", cg],
                             capture_output=True, text=True).stdout
        open(os.path.join(wd, "callgrind-inclusive.txt"), "w").write(ann)
        ann_self = subprocess.run(["callgrind_annotate", "--threshold=99", cg],
                                  capture_output=True, text=True).stdout
        open(os.path.join(wd, "callgrind-self.txt"), "w").write(ann_self)
        m = re.search(r"([\d,]+)\s+\(100.0%\)\s+PROGRAM TOTALS", ann)
        if m:
            total = int(m.group(1).replace(",", ""))
            out["instructions_per_attempt"] = total // max(r["attempts"], 1)

    # SQL statements of one screening + booking, from PostgreSQL's log.
    if "statements" in only and shutil.which("psql"):
        try:
            out["statements"] = pg_statements(binary, lg, wd, args.pg_url)
        except Exception as e:  # noqa: BLE001 — informational only
            out["statements_error"] = str(e)

    out["loadavg_end"] = os.getloadavg()
    with open(os.path.join(wd, "profile.json"), "w") as f:
        json.dump(out, f, indent=1)
    print(json.dumps(out, indent=1))


def pg_statements(binary, lg, wd, admin_url):
    pg = bench.Postgres(admin_url, "bench_profile")
    pg.reset()
    pg.psql(f"{admin_url}/postgres", "ALTER DATABASE bench_profile SET log_statement = 'all'")
    candidates = ["/var/log/postgresql/postgresql-15-main.log"] + [
        os.path.join("/var/log/postgresql", f) for f in sorted(os.listdir("/var/log/postgresql"))]
    logfile = next((c for c in candidates if os.path.isfile(c)), None)
    if not logfile:
        raise RuntimeError("no PostgreSQL log file found")
    srv = bench.Server(binary, pg.url, wd)
    srv.start()
    result = {}
    try:
        key = srv.cli("api-key", "create", "--role", "staff", "--name", "bench")
        pid = bench.must(bench.http("GET", srv.base + "/v1/practitioners"), 200)
        pid = (pid["items"] if isinstance(pid, dict) else pid)[0]["id"]
        bench.must(bench.http("PUT", f"{srv.base}/v1/practitioners/{pid}/opening-hours", {"windows": [
            {"weekday": w, "opens": bench.OPENS, "closes": bench.CLOSES} for w in
            ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]]}, key), 200)
        frm = dt.date.today() + dt.timedelta(days=70)
        av = bench.must(bench.http("GET", f"{srv.base}/v1/availability?from={frm}&to={frm + dt.timedelta(days=3)}"), 200)
        slots = [s["starts_at"] for s in av["slots"]][:3]
        for n, idem in enumerate((True, False)):
            f = lg.slots_file("pg-slots.txt", slots[n:n + 1])
            start = os.path.getsize(logfile)
            book(lg, srv.base, pid, f, 1, 30, f"pg{idem}", idem=idem, count=1)
            time.sleep(0.5)
            with open(logfile, errors="replace") as fh:
                fh.seek(start)
                lines = [l for l in fh if "statement:" in l or "execute" in l]
            stmts = [re.sub(r"^.*?(statement|execute [^:]*): ", "", l.strip()) for l in lines]
            result["with_idempotency_key" if idem else "without_idempotency_key"] = {
                "count": len(stmts), "statements": [s[:160] for s in stmts]}
    finally:
        srv.stop()
        pg.drop()
    return result


if __name__ == "__main__":
    main()
