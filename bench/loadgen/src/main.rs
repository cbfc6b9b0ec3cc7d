//! Load generator for `bench/run.sh`.
//!
//! ```text
//! loadgen book --base URL --practitioner ID --slots FILE [--pick sequential|random]
//!              (--concurrency N | --rate R) [--duration S] [--count N]
//!              [--idempotency] [--staff-key K --confirm-fraction F] [--tag T]
//! loadgen get  --url URL (--concurrency N | --rate R) --duration S
//! ```
//!
//! `book` runs screening + booking pairs: each attempt first asks
//! `POST /v1/screenings` for a fresh single-use token, then books one slot
//! from the slots file (one RFC 3339 UTC start per line) with
//! `POST /v1/consultations`. `--pick sequential` gives every attempt its own
//! slot (spread over many free slots); `--pick random` makes attempts
//! contend for the listed slots. With `--concurrency` N clients book back to
//! back (closed loop: throughput); with `--rate` a new pair starts every
//! 1/R seconds whatever the server does (open loop: latency below
//! saturation). The booking latency is the booking POST alone, from send to
//! the last byte of the answer; the screening is timed separately.
//!
//! `get` measures one URL: closed loop (throughput) or open loop at a fixed
//! rate, where latency counts from the scheduled send time, so a stalled
//! server cannot hide its queue (no coordinated omission).
//!
//! Prints one JSON object on stdout. Every run is bounded by `--duration`
//! (and `--count`); nothing here talks to anything but the URL given.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

const USAGE: &str = "usage: loadgen book --base URL --practitioner ID --slots FILE [--pick sequential|random] (--concurrency N | --rate R) [--duration S] [--count N] [--idempotency] [--staff-key K --confirm-fraction F] [--tag T]\n       loadgen get --url URL (--concurrency N | --rate R) --duration S";

struct Args(HashMap<String, String>);

impl Args {
    fn parse(raw: &[String]) -> Result<Self, String> {
        let mut map = HashMap::new();
        let mut i = 0;
        while i < raw.len() {
            let k = raw[i]
                .strip_prefix("--")
                .ok_or_else(|| format!("unexpected argument {}", raw[i]))?;
            if k == "idempotency" {
                map.insert(k.to_owned(), "true".to_owned());
                i += 1;
                continue;
            }
            let v = raw
                .get(i + 1)
                .ok_or_else(|| format!("--{k} needs a value"))?;
            map.insert(k.to_owned(), v.clone());
            i += 2;
        }
        Ok(Self(map))
    }
    fn str(&self, k: &str) -> Option<&str> {
        self.0.get(k).map(String::as_str)
    }
    fn req(&self, k: &str) -> Result<&str, String> {
        self.str(k).ok_or_else(|| format!("--{k} is required"))
    }
    fn num(&self, k: &str) -> Result<Option<f64>, String> {
        self.str(k)
            .map(|v| {
                v.parse::<f64>()
                    .map_err(|_| format!("--{k}: not a number: {v}"))
            })
            .transpose()
    }
}

/// Latency samples in milliseconds and the summary we report.
fn summary(mut v: Vec<f64>) -> Value {
    if v.is_empty() {
        return json!({"n": 0});
    }
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let pct = |p: f64| {
        let idx = ((p * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1;
        (v[idx] * 1000.0).round() / 1000.0
    };
    let mean = v.iter().sum::<f64>() / v.len() as f64;
    json!({
        "n": v.len(),
        "p50": pct(0.50),
        "p90": pct(0.90),
        "p99": pct(0.99),
        "max": pct(1.0),
        "mean": (mean * 1000.0).round() / 1000.0,
    })
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[derive(Default)]
struct Stats {
    statuses: BTreeMap<String, u64>,
    booking_ms: Vec<f64>,
    booking_ok_ms: Vec<f64>,
    screening_ms: Vec<f64>,
    pair_ms: Vec<f64>,
    attempts: u64,
    booked: u64,
    answered: u64,
    confirmed: u64,
    last_done: Option<Instant>,
}

impl Stats {
    fn count(&mut self, key: String) {
        *self.statuses.entry(key).or_default() += 1;
    }
}

/// A block of a million phone numbers per tag (FNV-1a of the tag).
fn phone_base(tag: &str) -> u64 {
    let hash = tag.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    (hash % 1000) * 1_000_000
}

struct BookCtx {
    client: reqwest::Client,
    base: String,
    practitioner: String,
    tag: String,
    /// Phone numbers of this run start here (from the tag).
    phone_base: u64,
    idempotency: bool,
    staff_key: Option<String>,
    confirm_per_mille: u64,
    slots: Vec<String>,
    random: bool,
    stats: Mutex<Stats>,
}

/// Deterministic scramble for slot picks and confirm sampling.
fn mix(mut x: u64) -> u64 {
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    x ^ (x >> 33)
}

fn problem_code(body: &[u8]) -> String {
    serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v.get("code").and_then(Value::as_str).map(str::to_owned))
        .unwrap_or_default()
}

impl BookCtx {
    fn slot(&self, n: u64) -> Option<&str> {
        if self.random {
            let i = (mix(n) % self.slots.len() as u64) as usize;
            Some(&self.slots[i])
        } else {
            self.slots.get(n as usize).map(String::as_str)
        }
    }

    async fn post(
        &self,
        path: &str,
        body: String,
        headers: &[(&str, String)],
    ) -> Result<(u16, Vec<u8>), String> {
        let mut rb = self
            .client
            .post(format!("{}{}", self.base, path))
            .header("content-type", "application/json")
            .body(body);
        for (k, v) in headers {
            rb = rb.header(*k, v);
        }
        let resp = rb.send().await.map_err(|e| e.to_string())?;
        let status = resp.status().as_u16();
        let bytes = resp.bytes().await.map_err(|e| e.to_string())?;
        Ok((status, bytes.to_vec()))
    }

    /// One screening + booking pair for attempt `n` on `slot`.
    async fn attempt(&self, n: u64, slot: &str, scheduled: Instant) {
        let dob = "1990-04-12";
        let t0 = Instant::now();
        let screening = self
            .post(
                "/v1/screenings",
                json!({
                    "date_of_birth": dob, "pregnant": false, "breastfeeding": false,
                    "autoimmune_condition": false, "active_infection_at_site": false,
                    "other_medical_conditions": false
                })
                .to_string(),
                &[],
            )
            .await;
        let t1 = Instant::now();
        let token = match &screening {
            Ok((201, body)) => serde_json::from_slice::<Value>(body).ok().and_then(|v| {
                v.get("screening_token")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            }),
            _ => None,
        };
        let Some(token) = token else {
            let mut s = self.stats.lock().unwrap();
            match screening {
                Ok((st, _)) => s.count(format!("screening {st}")),
                Err(_) => s.count("screening transport_error".into()),
            }
            s.attempts += 1;
            s.last_done = Some(Instant::now());
            return;
        };
        let body = json!({
            "client": {
                "full_name": format!("Bench Client {n}"),
                "email": format!("bench-{}-{n}@example.com", self.tag),
                // Each client its own number, as in life, and unique across
                // runs (tags), so the cap on unpaid holds per contact counts
                // one booking, not every one.
                "phone": format!("+44 7{:09}", self.phone_base + n % 1_000_000),
                "date_of_birth": dob,
            },
            "screening_token": token,
            "practitioner_id": self.practitioner,
            "starts_at": slot,
            "accept_cancellation_policy": true,
        })
        .to_string();
        // Each client from an address of its own (198.18.0.0/15, the range
        // for benchmarks; the bench server trusts X-Forwarded-For), so the
        // cap on unpaid holds per address counts that client's, as in life.
        let address = (self.phone_base + n) % 131_072;
        let mut headers = vec![(
            "x-forwarded-for",
            format!("198.{}.{}.{}", 18 + address / 65_536, (address / 256) % 256, address % 256),
        )];
        if self.idempotency {
            headers.push(("idempotency-key", format!("bench-{}-{n}", self.tag)));
        }
        let t2 = Instant::now();
        let booking = self.post("/v1/consultations", body, &headers).await;
        let t3 = Instant::now();
        let mut deposit_to_confirm = None;
        {
            let mut s = self.stats.lock().unwrap();
            s.attempts += 1;
            s.screening_ms.push(ms(t1 - t0));
            match &booking {
                Ok((st, body)) => {
                    s.answered += 1;
                    s.booking_ms.push(ms(t3 - t2));
                    s.pair_ms.push(ms(t3 - scheduled));
                    if *st == 201 {
                        s.booked += 1;
                        s.booking_ok_ms.push(ms(t3 - t2));
                        s.count("201".into());
                        if self.staff_key.is_some()
                            && mix(n ^ 0x5eed) % 1000 < self.confirm_per_mille
                        {
                            deposit_to_confirm =
                                serde_json::from_slice::<Value>(body).ok().and_then(|v| {
                                    v.pointer("/deposit/id")
                                        .or_else(|| v.pointer("/consultation/deposit/id"))
                                        .and_then(Value::as_str)
                                        .map(str::to_owned)
                                });
                        }
                    } else {
                        s.count(format!("{st} {}", problem_code(body)).trim().to_owned());
                    }
                }
                Err(_) => s.count("booking transport_error".into()),
            }
            s.last_done = Some(Instant::now());
        }
        if let (Some(dep), Some(key)) = (deposit_to_confirm, &self.staff_key) {
            let r = self
                .post(
                    &format!("/v1/deposits/{dep}/payments"),
                    json!({"reference": format!("bench receipt {n}")}).to_string(),
                    &[("authorization", format!("Bearer {key}"))],
                )
                .await;
            let mut s = self.stats.lock().unwrap();
            match r {
                Ok((200, _)) | Ok((201, _)) => s.confirmed += 1,
                Ok((st, body)) => s.count(format!("confirm {st} {}", problem_code(&body))),
                Err(_) => s.count("confirm transport_error".into()),
            }
        }
    }
}

fn client(max_conns: usize) -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(max_conns.max(1))
        .tcp_nodelay(true)
        .timeout(Duration::from_secs(30))
        .build()
        .expect("http client")
}

async fn book(args: &Args) -> Result<Value, String> {
    let slots_file = args.req("slots")?;
    let slots: Vec<String> = std::fs::read_to_string(slots_file)
        .map_err(|e| format!("{slots_file}: {e}"))?
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect();
    if slots.is_empty() {
        return Err("the slots file is empty".into());
    }
    let random = match args.str("pick").unwrap_or("sequential") {
        "sequential" => false,
        "random" => true,
        other => return Err(format!("--pick: sequential or random, not {other}")),
    };
    let concurrency = args.num("concurrency")?.map(|c| c as usize);
    let rate = args.num("rate")?;
    let duration = Duration::from_secs_f64(args.num("duration")?.unwrap_or(3600.0));
    let count = args.num("count")?.map(|c| c as u64).unwrap_or(u64::MAX);
    let tag = args.str("tag").unwrap_or("run");
    let ctx = Arc::new(BookCtx {
        client: client(concurrency.unwrap_or(64)),
        base: args.req("base")?.trim_end_matches('/').to_owned(),
        practitioner: args.req("practitioner")?.to_owned(),
        tag: tag.to_owned(),
        phone_base: phone_base(tag),
        idempotency: args.str("idempotency").is_some(),
        staff_key: args.str("staff-key").map(str::to_owned),
        confirm_per_mille: (args.num("confirm-fraction")?.unwrap_or(0.0) * 1000.0) as u64,
        slots,
        random,
        stats: Mutex::new(Stats::default()),
    });
    let next = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let deadline = start + duration;
    let mut spawned_until = start;
    match (concurrency, rate) {
        (Some(n), None) => {
            let mut handles = Vec::new();
            for _ in 0..n {
                let ctx = ctx.clone();
                let next = next.clone();
                handles.push(tokio::spawn(async move {
                    loop {
                        if Instant::now() >= deadline {
                            break;
                        }
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= count {
                            break;
                        }
                        let Some(slot) = ctx.slot(i).map(str::to_owned) else {
                            break;
                        };
                        ctx.attempt(i, &slot, Instant::now()).await;
                    }
                }));
            }
            for h in handles {
                let _ = h.await;
            }
            spawned_until = Instant::now();
        }
        (None, Some(r)) if r > 0.0 => {
            let mut handles = Vec::new();
            let mut i = 0u64;
            loop {
                let at = start + Duration::from_secs_f64(i as f64 / r);
                if at >= deadline || i >= count {
                    break;
                }
                let Some(slot) = ctx.slot(i).map(str::to_owned) else {
                    break;
                };
                tokio::time::sleep_until(at.into()).await;
                let ctx = ctx.clone();
                handles.push(tokio::spawn(async move { ctx.attempt(i, &slot, at).await }));
                i += 1;
                spawned_until = at;
            }
            next.store(i, Ordering::Relaxed);
            // Let the stragglers finish (each request has its own timeout).
            for h in handles {
                let _ = h.await;
            }
        }
        _ => return Err("give one of --concurrency N or --rate R".into()),
    }
    let stats = std::mem::take(&mut *ctx.stats.lock().unwrap());
    let end = stats.last_done.unwrap_or_else(Instant::now);
    let elapsed = (end - start).as_secs_f64().max(1e-9);
    let attempts = stats.attempts;
    Ok(json!({
        "mode": if rate.is_some() { "rate" } else { "closed" },
        "pick": if random { "random" } else { "sequential" },
        "concurrency": concurrency,
        "target_rate": rate,
        "achieved_start_rate": rate.map(|_| attempts as f64 / (spawned_until - start).as_secs_f64().max(1e-9)),
        "slots_available": ctx.slots.len(),
        "elapsed_s": elapsed,
        "attempts": attempts,
        "answered": stats.answered,
        "booked": stats.booked,
        "confirmed": stats.confirmed,
        "statuses": stats.statuses,
        "bookings_per_s": stats.booked as f64 / elapsed,
        "answered_per_s": stats.answered as f64 / elapsed,
        "attempts_per_s": attempts as f64 / elapsed,
        "booking_ms": summary(stats.booking_ms),
        "booking_201_ms": summary(stats.booking_ok_ms),
        "screening_ms": summary(stats.screening_ms),
        "pair_from_schedule_ms": summary(stats.pair_ms),
    }))
}

/// Status counts and latency samples (ms) of a `get` run.
type GetStats = Mutex<(BTreeMap<String, u64>, Vec<f64>)>;

async fn get(args: &Args) -> Result<Value, String> {
    let url = args.req("url")?.to_owned();
    let concurrency = args.num("concurrency")?.map(|c| c as usize);
    let rate = args.num("rate")?;
    let duration = Duration::from_secs_f64(args.num("duration")?.ok_or("--duration is required")?);
    let client = client(concurrency.unwrap_or(64));
    let stats: Arc<GetStats> = Arc::new(Mutex::new((BTreeMap::new(), Vec::new())));
    let start = Instant::now();
    let deadline = start + duration;
    let one = |client: reqwest::Client, url: String, stats: Arc<GetStats>, from: Instant| async move {
        let r = match client.get(&url).send().await {
            Ok(resp) => {
                let st = resp.status().as_u16();
                resp.bytes().await.map(|_| st).map_err(|_| ())
            }
            Err(_) => Err(()),
        };
        let lat = ms(from.elapsed());
        let mut s = stats.lock().unwrap();
        match r {
            Ok(st) => {
                *s.0.entry(st.to_string()).or_default() += 1;
                s.1.push(lat);
            }
            Err(()) => *s.0.entry("transport_error".into()).or_default() += 1,
        }
    };
    let mut sent = 0u64;
    match (concurrency, rate) {
        (Some(n), None) => {
            let mut handles = Vec::new();
            let counter = Arc::new(AtomicU64::new(0));
            for _ in 0..n {
                let (client, url, stats, counter) =
                    (client.clone(), url.clone(), stats.clone(), counter.clone());
                handles.push(tokio::spawn(async move {
                    while Instant::now() < deadline {
                        counter.fetch_add(1, Ordering::Relaxed);
                        one(client.clone(), url.clone(), stats.clone(), Instant::now()).await;
                    }
                }));
            }
            for h in handles {
                let _ = h.await;
            }
            sent = counter.load(Ordering::Relaxed);
        }
        (None, Some(r)) if r > 0.0 => {
            let mut handles = Vec::new();
            loop {
                let at = start + Duration::from_secs_f64(sent as f64 / r);
                if at >= deadline {
                    break;
                }
                tokio::time::sleep_until(at.into()).await;
                handles.push(tokio::spawn(one(
                    client.clone(),
                    url.clone(),
                    stats.clone(),
                    at,
                )));
                sent += 1;
            }
            for h in handles {
                let _ = h.await;
            }
        }
        _ => return Err("give one of --concurrency N or --rate R".into()),
    }
    let elapsed = start.elapsed().as_secs_f64();
    let (statuses, lat) = std::mem::take(&mut *stats.lock().unwrap());
    let ok = statuses.get("200").copied().unwrap_or(0);
    Ok(json!({
        "url": url,
        "mode": if rate.is_some() { "rate" } else { "closed" },
        "concurrency": concurrency,
        "target_rate": rate,
        "elapsed_s": elapsed,
        "sent": sent,
        "statuses": statuses,
        "ok_per_s": ok as f64 / elapsed,
        "latency_ms": summary(lat),
    }))
}

fn main() {
    let raw: Vec<String> = std::env::args().skip(1).collect();
    let Some((cmd, rest)) = raw.split_first() else {
        eprintln!("{USAGE}");
        std::process::exit(2);
    };
    let args = match Args::parse(rest) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("loadgen: {e}\n{USAGE}");
            std::process::exit(2);
        }
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let result = rt.block_on(async {
        match cmd.as_str() {
            "book" => book(&args).await,
            "get" => get(&args).await,
            _ => Err(format!("unknown command {cmd}")),
        }
    });
    match result {
        Ok(v) => println!("{v}"),
        Err(e) => {
            eprintln!("loadgen: {e}");
            std::process::exit(2);
        }
    }
}
