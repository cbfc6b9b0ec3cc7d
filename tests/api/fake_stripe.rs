//! An in-process fake of the parts of the Stripe API that the service uses,
//! for integration tests. It speaks real HTTP so the real `async-stripe`
//! client can talk to it:
//!
//! ```ignore
//! let fake = FakeStripe::start();
//! let client = stripe::ClientBuilder::new("sk_test_123").url(&fake.base_url).build()?;
//! ```
//!
//! Endpoints: `POST /v1/payment_intents`, `GET /v1/payment_intents/{id}`,
//! `POST /v1/payment_intents/{id}/cancel`, `POST /v1/refunds` and
//! `GET /v1/refunds/{id}`. Anything else answers 404 with a Stripe error body.
//!
//! Behaviour worth knowing:
//! - Every request needs `Authorization: Bearer sk_…` (or `rk_…`); otherwise
//!   401 with Stripe's real body, `{"error":{"type":"invalid_request_error",…}}`.
//! - Every error is `{"error":{"type":…,"code":…,"message":…}}`, which
//!   async-stripe turns into `StripeError::Stripe(error, status)`.
//! - Idempotency (POSTs with an `Idempotency-Key`): the first successful
//!   answer for a key is saved and replayed byte for byte (with
//!   `Idempotent-Replayed: true`) for the same path and parameters, even if
//!   the object has changed since; the key with another path or other
//!   parameters gives 400 `idempotency_error`. Error answers are not saved.
//! - Parameters the fake does not know are accepted and ignored (see
//!   [`RecordedRequest::form`] to assert on them).
//!
//! The server runs on its own `std::thread` with its own actix (tokio)
//! runtime, listens on `127.0.0.1:<random port>`, and stops when the
//! [`FakeStripe`] is dropped. `start()` and `drop` are synchronous and
//! safe to call from inside any async test.
//!
//! Also here: helpers that build webhook payloads the way Stripe sends them
//! ([`event_json`], [`payment_intent_json`], [`charge_json`],
//! [`refund_json`]) and sign them ([`signature_header`]).

// Each test file uses a different part of this module.
#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::TcpListener;
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use actix_web::dev::ServerHandle;
use actix_web::http::StatusCode;
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

/// The API version async-stripe 1.0.0-rc.10 is generated for. Used as the
/// `api_version` of events so the webhook crate logs no version mismatch.
pub const API_VERSION: &str = "2026-09-30.endive";

/// How the next request(s) should fail; see [`FakeStripe::fail_next`].
#[derive(Clone, Debug)]
pub enum Failure {
    /// 500 with `{"error":{"type":"api_error",…}}`. Nothing is changed.
    ServerError,
    /// The request is carried out normally (its effects are visible at
    /// once), but the answer is held back for this long. A client with a
    /// shorter timeout gives up with `StripeError::Timeout`, and a retry with
    /// the same idempotency key gets the saved answer back.
    Timeout(Duration),
    /// 402 `card_error` with code `card_declined` and decline code
    /// `generic_decline`. Nothing is changed.
    CardDeclined,
    /// 429 `invalid_request_error` with code `rate_limit`. Nothing is changed.
    RateLimited,
}

#[derive(Clone, Debug)]
pub struct FakePaymentIntent {
    pub id: String,
    pub amount: i64,
    pub currency: String,
    pub status: String,
    pub metadata: BTreeMap<String, String>,
    pub client_secret: String,
    /// The `Idempotency-Key` of the request that created it.
    pub idempotency_key: Option<String>,
    pub latest_charge: Option<String>,
}

#[derive(Clone, Debug)]
pub struct FakeRefund {
    pub id: String,
    pub payment_intent: String,
    pub amount: i64,
    pub status: String,
    /// The `Idempotency-Key` of the request that created it.
    pub idempotency_key: Option<String>,
}

/// One request as the fake received it, whatever the answer was.
#[derive(Clone, Debug)]
pub struct RecordedRequest {
    pub method: String,
    /// Without the query string (the client adds a bare `?` to GETs).
    pub path: String,
    pub idempotency_key: Option<String>,
    pub authorization: Option<String>,
    /// The decoded form body; for a GET, the decoded query string. In the
    /// order sent (metadata order is random: look pairs up, don't compare
    /// the whole list).
    pub form: Vec<(String, String)>,
    /// The HTTP status the fake answered with.
    pub status: u16,
}

impl RecordedRequest {
    /// The first value sent for `key` (e.g. `"amount"`, `"metadata[order_id]"`).
    pub fn param(&self, key: &str) -> Option<&str> {
        self.form
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// A running fake Stripe. Dropping it stops the server.
pub struct FakeStripe {
    /// `http://127.0.0.1:PORT`, for `ClientBuilder::url`.
    pub base_url: String,
    state: Arc<Mutex<State>>,
    server: Option<ServerHandle>,
    thread: Option<JoinHandle<()>>,
}

impl FakeStripe {
    /// Starts the server and returns once it is listening. Synchronous: it
    /// needs no runtime from the caller.
    pub fn start() -> FakeStripe {
        let listener = TcpListener::bind("127.0.0.1:0").expect("fake stripe: bind 127.0.0.1:0");
        listener
            .set_nonblocking(true)
            .expect("fake stripe: set_nonblocking");
        let port = listener
            .local_addr()
            .expect("fake stripe: local_addr")
            .port();
        let state = Arc::new(Mutex::new(State::default()));
        let data = web::Data::from(Arc::clone(&state));
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("fake-stripe".into())
            .spawn(move || {
                actix_web::rt::System::new().block_on(async move {
                    let server = HttpServer::new(move || {
                        App::new()
                            .app_data(data.clone())
                            .app_data(web::PayloadConfig::new(1 << 20))
                            .default_service(web::to(handle))
                    })
                    .workers(1)
                    .disable_signals()
                    .shutdown_timeout(0)
                    .listen(listener);
                    match server {
                        Ok(server) => {
                            let server = server.run();
                            let _ = ready_tx.send(Ok(server.handle()));
                            let _ = server.await;
                        }
                        Err(e) => {
                            let _ = ready_tx.send(Err(e));
                        }
                    }
                });
            })
            .expect("fake stripe: spawn thread");
        let server = ready_rx
            .recv()
            .expect("fake stripe: server thread died")
            .expect("fake stripe: listen");
        FakeStripe {
            base_url: format!("http://127.0.0.1:{port}"),
            state,
            server: Some(server),
            thread: Some(thread),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    /// The next `count` requests (any endpoint, including ones that would
    /// fail authentication) fail this way. Queues after failures already
    /// pending. Injected errors are not saved under idempotency keys, so a
    /// retry with the same key is carried out normally.
    pub fn fail_next(&self, count: usize, failure: Failure) {
        let mut state = self.state();
        state.failures.extend(std::iter::repeat_n(failure, count));
    }

    /// Drops all pending injected failures.
    pub fn clear_failures(&self) {
        self.state().failures.clear();
    }

    /// All payment intents, oldest first.
    pub fn payment_intents(&self) -> Vec<FakePaymentIntent> {
        self.state().intents.iter().map(|r| r.pi.clone()).collect()
    }

    pub fn payment_intent(&self, id: &str) -> Option<FakePaymentIntent> {
        self.state().intent(id).map(|r| r.pi.clone())
    }

    /// The intent as the API would return it now (for webhook payloads).
    pub fn payment_intent_value(&self, id: &str) -> Option<Value> {
        self.state().intent(id).map(PiRecord::to_json)
    }

    /// Moves an intent to `status`, as if the customer (or Stripe) did
    /// something. `"succeeded"` also gives it a `latest_charge` (`ch_…`) if it
    /// has none. Panics if there is no such intent.
    pub fn set_status(&self, id: &str, status: &str) {
        let mut state = self.state();
        let record = state
            .intent_mut(id)
            .unwrap_or_else(|| panic!("fake stripe: set_status: no payment intent {id}"));
        record.pi.status = status.to_string();
        if status == "succeeded" && record.pi.latest_charge.is_none() {
            record.pi.latest_charge = Some(new_id("ch"));
        }
        if status == "canceled" && record.canceled_at.is_none() {
            record.canceled_at = Some(now());
        }
    }

    /// All refunds, oldest first.
    pub fn refunds(&self) -> Vec<FakeRefund> {
        self.state()
            .refunds
            .iter()
            .map(|r| r.refund.clone())
            .collect()
    }

    /// Every request received, oldest first.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.state().requests.clone()
    }

    pub fn clear_requests(&self) {
        self.state().requests.clear();
    }
}

impl Drop for FakeStripe {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            // The stop command is sent when `stop` is called; the returned
            // future only waits for completion, which the join below does.
            let completion = server.stop(false);
            drop(completion);
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// `Stripe-Signature` header value for `body` signed with `secret` at unix
/// time `timestamp`: `t={timestamp},v1={hex HMAC-SHA256(secret, "{t}.{body}")}`.
/// The secret is used as given (the whole `whsec_…` string), as Stripe and
/// `stripe_webhook::Webhook` do. `construct_event` rejects timestamps more
/// than 300 s from now, so pass `chrono::Utc::now().timestamp()` (or the
/// same value to `construct_event_with_timestamp`).
pub fn signature_header(secret: &str, body: &str, timestamp: i64) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(format!("{timestamp}.{body}").as_bytes());
    format!(
        "t={timestamp},v1={}",
        hex::encode(mac.finalize().into_bytes())
    )
}

/// A complete event, as Stripe POSTs it to a webhook endpoint. Sign exactly
/// this string: re-serialised JSON does not verify.
pub fn event_json(id: &str, event_type: &str, object: Value) -> String {
    json!({
        "id": id,
        "object": "event",
        "api_version": API_VERSION,
        "created": now(),
        "data": { "object": object },
        "livemode": false,
        "pending_webhooks": 1,
        "request": { "id": null, "idempotency_key": null },
        "type": event_type,
    })
    .to_string()
}

/// A PaymentIntent as the API returns it. `created` is now;
/// `amount_received` is `amount` once succeeded; `latest_charge` is the id.
/// Patch the value for anything else (e.g. `last_payment_error`).
pub fn payment_intent_json(pi: &FakePaymentIntent) -> Value {
    let amount_received = if pi.status == "succeeded" {
        pi.amount
    } else {
        0
    };
    let amount_capturable = if pi.status == "requires_capture" {
        pi.amount
    } else {
        0
    };
    json!({
        "id": pi.id,
        "object": "payment_intent",
        "amount": pi.amount,
        "amount_capturable": amount_capturable,
        "amount_received": amount_received,
        "application": null,
        "application_fee_amount": null,
        "automatic_payment_methods": null,
        "canceled_at": null,
        "cancellation_reason": null,
        "capture_method": "automatic_async",
        "client_secret": pi.client_secret,
        "confirmation_method": "automatic",
        "created": now(),
        "currency": pi.currency,
        "customer": null,
        "description": null,
        "last_payment_error": null,
        "latest_charge": pi.latest_charge,
        "livemode": false,
        "metadata": pi.metadata,
        "next_action": null,
        "on_behalf_of": null,
        "payment_method": null,
        "payment_method_types": ["card"],
        "processing": null,
        "receipt_email": null,
        "review": null,
        "setup_future_usage": null,
        "shipping": null,
        "statement_descriptor": null,
        "statement_descriptor_suffix": null,
        "status": pi.status,
        "transfer_data": null,
        "transfer_group": null,
    })
}

/// A succeeded, captured GBP Charge, for `charge.refunded` events. As in
/// Stripe, `refunded` is true only once `amount_refunded` reaches `amount`
/// (a partial refund still sends `charge.refunded`, with `refunded: false`).
/// Set `value["currency"]` for another currency.
pub fn charge_json(
    charge_id: &str,
    payment_intent: &str,
    amount: i64,
    amount_refunded: i64,
) -> Value {
    json!({
        "id": charge_id,
        "object": "charge",
        "amount": amount,
        "amount_captured": amount,
        "amount_refunded": amount_refunded,
        "balance_transaction": null,
        "billing_details": {
            "address": null, "email": null, "name": null, "phone": null, "tax_id": null
        },
        "captured": true,
        "created": now(),
        "currency": "gbp",
        "customer": null,
        "description": null,
        "disputed": false,
        "failure_code": null,
        "failure_message": null,
        "livemode": false,
        "metadata": {},
        "paid": true,
        "payment_intent": payment_intent,
        "payment_method": null,
        "receipt_url": null,
        "refunded": amount_refunded > 0 && amount_refunded >= amount,
        "status": "succeeded",
    })
}

/// A Refund as the API returns it (GBP; set `value["currency"]` otherwise),
/// for responses and `refund.*` / `charge.refund.updated` events.
pub fn refund_json(refund: &FakeRefund) -> Value {
    json!({
        "id": refund.id,
        "object": "refund",
        "amount": refund.amount,
        "balance_transaction": null,
        "charge": null,
        "created": now(),
        "currency": "gbp",
        "metadata": {},
        "payment_intent": refund.payment_intent,
        "reason": null,
        "receipt_number": null,
        "source_transfer_reversal": null,
        "status": refund.status,
        "transfer_reversal": null,
    })
}

// ---------------------------------------------------------------------------
// Server internals

#[derive(Default)]
struct State {
    failures: VecDeque<Failure>,
    intents: Vec<PiRecord>,
    refunds: Vec<RefundRecord>,
    idempotency: HashMap<String, SavedResult>,
    requests: Vec<RecordedRequest>,
}

struct PiRecord {
    pi: FakePaymentIntent,
    created: i64,
    canceled_at: Option<i64>,
    cancellation_reason: Option<String>,
    automatic_payment_methods: Option<bool>,
}

impl PiRecord {
    fn to_json(&self) -> Value {
        let mut v = payment_intent_json(&self.pi);
        v["created"] = json!(self.created);
        v["canceled_at"] = json!(self.canceled_at);
        v["cancellation_reason"] = json!(self.cancellation_reason);
        if let Some(enabled) = self.automatic_payment_methods {
            v["automatic_payment_methods"] = json!({ "enabled": enabled, "allow_redirects": null });
        }
        v
    }
}

struct RefundRecord {
    refund: FakeRefund,
    created: i64,
    currency: String,
    charge: Option<String>,
    reason: Option<String>,
    metadata: BTreeMap<String, String>,
}

impl RefundRecord {
    fn to_json(&self) -> Value {
        let mut v = refund_json(&self.refund);
        v["created"] = json!(self.created);
        v["currency"] = json!(self.currency);
        v["charge"] = json!(self.charge);
        v["reason"] = json!(self.reason);
        v["metadata"] = json!(self.metadata);
        v
    }
}

/// What Stripe keeps for an idempotency key: the request it was first used
/// with and the answer it got.
struct SavedResult {
    method: String,
    path: String,
    params: Vec<(String, String)>,
    reply: Reply,
}

struct Incoming {
    method: String,
    path: String,
    idempotency_key: Option<String>,
    authorization: Option<String>,
    form: Vec<(String, String)>,
}

#[derive(Clone)]
struct Reply {
    status: u16,
    body: String,
    replayed: bool,
}

impl Reply {
    fn ok(body: Value) -> Reply {
        Reply {
            status: 200,
            body: body.to_string(),
            replayed: false,
        }
    }

    fn error(status: u16, error: Value) -> Reply {
        Reply {
            status,
            body: json!({ "error": error }).to_string(),
            replayed: false,
        }
    }

    fn invalid_request(
        status: u16,
        code: Option<&str>,
        param: Option<&str>,
        message: &str,
    ) -> Reply {
        let mut error = json!({ "type": "invalid_request_error", "message": message });
        if let Some(code) = code {
            error["code"] = json!(code);
            error["doc_url"] = json!(format!(
                "https://stripe.com/docs/error-codes/{}",
                code.replace('_', "-")
            ));
        }
        if let Some(param) = param {
            error["param"] = json!(param);
        }
        Reply::error(status, error)
    }

    fn into_response(self) -> HttpResponse {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = HttpResponse::build(status);
        response
            .content_type("application/json")
            .insert_header(("request-id", new_id("req")))
            .insert_header(("stripe-version", API_VERSION));
        if self.replayed {
            response.insert_header(("idempotent-replayed", "true"));
        }
        response.body(self.body)
    }
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

async fn handle(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<Mutex<State>>,
) -> HttpResponse {
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let form = if req.method() == actix_web::http::Method::GET {
        parse_form(req.query_string())
    } else {
        parse_form(&String::from_utf8_lossy(&body))
    };
    let incoming = Incoming {
        method: req.method().as_str().to_string(),
        path: req.path().to_string(),
        idempotency_key: header("idempotency-key"),
        authorization: header("authorization"),
        form,
    };
    let (reply, delay) = lock(&state).process(incoming);
    if let Some(delay) = delay {
        actix_web::rt::time::sleep(delay).await;
    }
    reply.into_response()
}

impl State {
    fn intent(&self, id: &str) -> Option<&PiRecord> {
        self.intents.iter().find(|r| r.pi.id == id)
    }

    fn intent_mut(&mut self, id: &str) -> Option<&mut PiRecord> {
        self.intents.iter_mut().find(|r| r.pi.id == id)
    }

    fn process(&mut self, incoming: Incoming) -> (Reply, Option<Duration>) {
        let mut delay = None;
        let reply = match self.failures.pop_front() {
            None => self.authorized(&incoming),
            Some(Failure::Timeout(d)) => {
                delay = Some(d);
                self.authorized(&incoming)
            }
            Some(Failure::ServerError) => Reply::error(
                500,
                json!({
                    "type": "api_error",
                    "message": "An unknown error occurred (injected by FakeStripe).",
                }),
            ),
            Some(Failure::CardDeclined) => Reply::error(
                402,
                json!({
                    "type": "card_error",
                    "code": "card_declined",
                    "decline_code": "generic_decline",
                    "message": "Your card was declined.",
                    "doc_url": "https://stripe.com/docs/error-codes/card-declined",
                }),
            ),
            Some(Failure::RateLimited) => Reply::invalid_request(
                429,
                Some("rate_limit"),
                None,
                "Too many requests hit the API too quickly. We recommend an exponential backoff of your requests.",
            ),
        };
        self.requests.push(RecordedRequest {
            method: incoming.method,
            path: incoming.path,
            idempotency_key: incoming.idempotency_key,
            authorization: incoming.authorization,
            form: incoming.form,
            status: reply.status,
        });
        (reply, delay)
    }

    fn authorized(&mut self, req: &Incoming) -> Reply {
        let key = req
            .authorization
            .as_deref()
            .and_then(|h| h.strip_prefix("Bearer "))
            .map(str::trim);
        match key {
            Some(key) if key.starts_with("sk_") || key.starts_with("rk_") => self.idempotent(req),
            Some(key) => Reply::invalid_request(
                401,
                None,
                None,
                &format!("Invalid API Key provided: {}", mask_key(key)),
            ),
            None => Reply::invalid_request(
                401,
                None,
                None,
                "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY').",
            ),
        }
    }

    /// Stripe's idempotency for POSTs: a key's first successful answer is
    /// saved and replayed for the same endpoint and parameters; other use of
    /// the key is an `idempotency_error`. Answers that failed validation are
    /// not saved (Stripe only saves once the endpoint has started working).
    fn idempotent(&mut self, req: &Incoming) -> Reply {
        let key = match &req.idempotency_key {
            Some(key) if req.method == "POST" => key.clone(),
            _ => return self.route(req),
        };
        let mut params = req.form.clone();
        params.sort();
        if let Some(saved) = self.idempotency.get(&key) {
            if saved.method == req.method && saved.path == req.path && saved.params == params {
                let mut reply = saved.reply.clone();
                reply.replayed = true;
                return reply;
            }
            return Reply::error(
                400,
                json!({
                    "type": "idempotency_error",
                    "message": format!(
                        "Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '{key}' if you meant to execute a different request."
                    ),
                }),
            );
        }
        let reply = self.route(req);
        if (200..300).contains(&reply.status) {
            self.idempotency.insert(
                key,
                SavedResult {
                    method: req.method.clone(),
                    path: req.path.clone(),
                    params,
                    reply: reply.clone(),
                },
            );
        }
        reply
    }

    fn route(&mut self, req: &Incoming) -> Reply {
        let segments: Vec<&str> = req.path.split('/').filter(|s| !s.is_empty()).collect();
        match (req.method.as_str(), segments.as_slice()) {
            ("POST", ["v1", "payment_intents"]) => self.create_payment_intent(req),
            ("GET", ["v1", "payment_intents", id]) => match self.intent(id) {
                Some(record) => Reply::ok(record.to_json()),
                None => no_such("payment_intent", id, "intent", 404),
            },
            ("POST", ["v1", "payment_intents", id, "cancel"]) => self.cancel_payment_intent(id, req),
            ("POST", ["v1", "refunds"]) => self.create_refund(req),
            ("GET", ["v1", "refunds", id]) => match self.refunds.iter().find(|r| r.refund.id == *id) {
                Some(record) => Reply::ok(record.to_json()),
                None => no_such("refund", id, "id", 404),
            },
            _ => Reply::invalid_request(
                404,
                None,
                None,
                &format!(
                    "Unrecognized request URL ({}: {}). (This fake implements only payment intent create/retrieve/cancel and refund create/retrieve.)",
                    req.method, req.path
                ),
            ),
        }
    }

    fn create_payment_intent(&mut self, req: &Incoming) -> Reply {
        let amount = match positive_amount(req, true) {
            Ok(amount) => amount.unwrap_or_default(),
            Err(reply) => return reply,
        };
        let currency = match param(req, "currency") {
            None | Some("") => return missing("currency"),
            Some(c) if c.len() == 3 && c.chars().all(|c| c.is_ascii_alphabetic()) => {
                c.to_ascii_lowercase()
            }
            Some(c) => {
                return Reply::invalid_request(
                    400,
                    None,
                    Some("currency"),
                    &format!("Invalid currency: {}.", c.to_ascii_lowercase()),
                )
            }
        };
        let automatic_payment_methods = match param(req, "automatic_payment_methods[enabled]") {
            None => None,
            Some("true") => Some(true),
            Some("false") => Some(false),
            Some(other) => {
                return Reply::invalid_request(
                    400,
                    Some("parameter_invalid_boolean"),
                    Some("automatic_payment_methods[enabled]"),
                    &format!("Invalid boolean: {other}"),
                )
            }
        };
        let id = new_id("pi");
        let client_secret = format!("{id}_secret_{}", random_chars(25));
        let record = PiRecord {
            pi: FakePaymentIntent {
                id,
                amount,
                currency,
                status: "requires_payment_method".into(),
                metadata: metadata(req),
                client_secret,
                idempotency_key: req.idempotency_key.clone(),
                latest_charge: None,
            },
            created: now(),
            canceled_at: None,
            cancellation_reason: None,
            automatic_payment_methods,
        };
        let reply = Reply::ok(record.to_json());
        self.intents.push(record);
        reply
    }

    fn cancel_payment_intent(&mut self, id: &str, req: &Incoming) -> Reply {
        let reason = param(req, "cancellation_reason").map(str::to_string);
        let Some(record) = self.intent_mut(id) else {
            return no_such("payment_intent", id, "intent", 404);
        };
        const CANCELABLE: [&str; 5] = [
            "requires_payment_method",
            "requires_capture",
            "requires_confirmation",
            "requires_action",
            "processing",
        ];
        if !CANCELABLE.contains(&record.pi.status.as_str()) {
            let mut reply = Reply::invalid_request(
                400,
                Some("payment_intent_unexpected_state"),
                None,
                &format!(
                    "You cannot cancel this PaymentIntent because it has a status of {}. Only a PaymentIntent with one of the following statuses may be canceled: {}.",
                    record.pi.status,
                    CANCELABLE.join(", ")
                ),
            );
            let mut body: Value = serde_json::from_str(&reply.body).expect("own JSON");
            body["error"]["payment_intent"] = record.to_json();
            reply.body = body.to_string();
            return reply;
        }
        record.pi.status = "canceled".into();
        record.canceled_at = Some(now());
        record.cancellation_reason = reason;
        Reply::ok(record.to_json())
    }

    fn create_refund(&mut self, req: &Incoming) -> Reply {
        let amount = match positive_amount(req, false) {
            Ok(amount) => amount,
            Err(reply) => return reply,
        };
        let pi_id = match (param(req, "payment_intent"), param(req, "charge")) {
            (Some(pi), _) if !pi.is_empty() => match self.intent(pi) {
                Some(record) => record.pi.id.clone(),
                None => return no_such("payment_intent", pi, "payment_intent", 400),
            },
            (_, Some(charge)) if !charge.is_empty() => {
                match self
                    .intents
                    .iter()
                    .find(|r| r.pi.latest_charge.as_deref() == Some(charge))
                {
                    Some(record) => record.pi.id.clone(),
                    None => return no_such("charge", charge, "charge", 400),
                }
            }
            _ => {
                return Reply::invalid_request(
                    400,
                    Some("parameter_missing"),
                    None,
                    "One of the following params should be provided for this request: payment_intent or charge.",
                )
            }
        };
        let already: i64 = self
            .refunds
            .iter()
            .filter(|r| r.refund.payment_intent == pi_id && r.refund.status != "failed")
            .map(|r| r.refund.amount)
            .sum();
        let record = self.intent(&pi_id).expect("looked up above");
        if record.pi.status != "succeeded" {
            return Reply::invalid_request(
                400,
                Some("payment_intent_unexpected_state"),
                Some("payment_intent"),
                &format!(
                    "This PaymentIntent ({pi_id}) does not have a successful charge to refund (status: {}).",
                    record.pi.status
                ),
            );
        }
        let charge = record.pi.latest_charge.clone();
        let remaining = record.pi.amount - already;
        if remaining <= 0 {
            return Reply::invalid_request(
                400,
                Some("charge_already_refunded"),
                None,
                &format!(
                    "Charge {} has already been refunded.",
                    charge.as_deref().unwrap_or(&pi_id)
                ),
            );
        }
        let amount = amount.unwrap_or(remaining);
        if amount > remaining {
            return Reply::invalid_request(
                400,
                Some("amount_too_large"),
                Some("amount"),
                &format!(
                    "Refund amount ({amount}) is greater than unrefunded amount on charge ({remaining})."
                ),
            );
        }
        let refund = RefundRecord {
            refund: FakeRefund {
                id: new_id("re"),
                payment_intent: pi_id,
                amount,
                status: "succeeded".into(),
                idempotency_key: req.idempotency_key.clone(),
            },
            created: now(),
            currency: record.pi.currency.clone(),
            charge,
            reason: param(req, "reason").map(str::to_string),
            metadata: metadata(req),
        };
        let reply = Reply::ok(refund.to_json());
        self.refunds.push(refund);
        reply
    }
}

fn param<'a>(req: &'a Incoming, key: &str) -> Option<&'a str> {
    req.form
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// `metadata[k]=v` pairs; an empty value means "unset", as in Stripe.
fn metadata(req: &Incoming) -> BTreeMap<String, String> {
    req.form
        .iter()
        .filter_map(|(k, v)| {
            let key = k.strip_prefix("metadata[")?.strip_suffix(']')?;
            (!v.is_empty()).then(|| (key.to_string(), v.clone()))
        })
        .collect()
}

fn positive_amount(req: &Incoming, required: bool) -> Result<Option<i64>, Reply> {
    match param(req, "amount") {
        None | Some("") if required => Err(missing("amount")),
        None | Some("") => Ok(None),
        Some(raw) => match raw.parse::<i64>() {
            Ok(amount) if amount >= 1 => Ok(Some(amount)),
            Ok(_) => Err(Reply::invalid_request(
                400,
                Some("amount_too_small"),
                Some("amount"),
                "This value must be greater than or equal to 1.",
            )),
            Err(_) => Err(Reply::invalid_request(
                400,
                Some("parameter_invalid_integer"),
                Some("amount"),
                &format!("Invalid integer: {raw}"),
            )),
        },
    }
}

fn missing(param: &str) -> Reply {
    Reply::invalid_request(
        400,
        Some("parameter_missing"),
        Some(param),
        &format!("Missing required param: {param}."),
    )
}

fn no_such(kind: &str, id: &str, param: &str, status: u16) -> Reply {
    Reply::invalid_request(
        status,
        Some("resource_missing"),
        Some(param),
        &format!("No such {kind}: '{id}'"),
    )
}

fn mask_key(key: &str) -> String {
    let tail: String = key
        .chars()
        .rev()
        .take(4)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    let head: String = key.chars().take(8).collect();
    format!("{head}****{tail}")
}

fn parse_form(raw: &str) -> Vec<(String, String)> {
    raw.split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (form_decode(k), form_decode(v))
        })
        .collect()
}

fn form_decode(raw: &str) -> String {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                if let Some(byte) = raw
                    .get(i + 1..i + 3)
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                {
                    out.push(byte);
                    i += 3;
                    continue;
                }
                out.push(b'%');
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn random_chars(n: usize) -> String {
    let mut s = String::new();
    while s.len() < n {
        s.push_str(&uuid::Uuid::new_v4().simple().to_string());
    }
    s.truncate(n);
    s
}

fn new_id(prefix: &str) -> String {
    format!("{prefix}_{}", random_chars(24))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use stripe::{
        ApiErrorsCode, ApiErrorsType, Client, ClientBuilder, IdempotencyKey, RequestStrategy,
        StripeError, StripeRequest,
    };
    use stripe_core::payment_intent::{
        CancelPaymentIntent, CreatePaymentIntent, CreatePaymentIntentAutomaticPaymentMethods,
        RetrievePaymentIntent,
    };
    use stripe_core::refund::CreateRefund;
    use stripe_core::{PaymentIntent, PaymentIntentStatus};
    use stripe_webhook::{EventObject, Webhook};

    use super::*;

    /// `stripe_types::Currency` is not re-exported by the crates the service
    /// depends on; infer it from the field type instead.
    fn currency<T: std::str::FromStr>(_field: fn(&PaymentIntent) -> &T, code: &str) -> T
    where
        T::Err: std::fmt::Debug,
    {
        code.parse().expect("Currency parsing is infallible")
    }

    fn client(fake: &FakeStripe) -> Client {
        ClientBuilder::new("sk_test_fake")
            .url(&fake.base_url)
            .timeout(Duration::from_secs(5))
            .build()
            .expect("client")
    }

    async fn create(
        client: &Client,
        amount: i64,
        key: &str,
        timeout: Option<Duration>,
    ) -> Result<PaymentIntent, StripeError> {
        let metadata = HashMap::from([("booking_id".to_string(), "b 1&2".to_string())]);
        let mut request = CreatePaymentIntent::new(amount, currency(|pi| &pi.currency, "gbp"))
            .automatic_payment_methods(CreatePaymentIntentAutomaticPaymentMethods::new(true))
            .metadata(metadata)
            .customize()
            .request_strategy(RequestStrategy::Idempotent(
                IdempotencyKey::new(key).expect("key"),
            ));
        if let Some(timeout) = timeout {
            request = request.timeout(timeout);
        }
        request.send(client).await
    }

    #[tokio::test]
    async fn real_client_create_retrieve_cancel_refund() {
        let fake = FakeStripe::start();
        let client = client(&fake);

        let first = create(&client, 2500, "k-1", None).await.expect("create");
        let again = create(&client, 2500, "k-1", None).await.expect("replay");
        assert_eq!(first.id, again.id);
        assert_eq!(first.status, PaymentIntentStatus::RequiresPaymentMethod);
        assert_eq!(first.metadata["booking_id"], "b 1&2");
        assert_eq!(fake.payment_intents().len(), 1);
        match create(&client, 9999, "k-1", None).await {
            Err(StripeError::Stripe(e, 400)) => {
                assert_eq!(e.type_, ApiErrorsType::IdempotencyError)
            }
            other => panic!("expected idempotency_error, got {other:?}"),
        }
        let recorded = &fake.requests()[0];
        assert_eq!(recorded.path, "/v1/payment_intents");
        assert_eq!(recorded.idempotency_key.as_deref(), Some("k-1"));
        assert_eq!(
            recorded.authorization.as_deref(),
            Some("Bearer sk_test_fake")
        );
        assert_eq!(recorded.param("metadata[booking_id]"), Some("b 1&2"));

        let got = RetrievePaymentIntent::new(first.id.as_str())
            .send(&client)
            .await
            .expect("retrieve");
        assert_eq!(got.amount, 2500);
        let canceled = CancelPaymentIntent::new(first.id.as_str())
            .send(&client)
            .await
            .expect("cancel");
        assert_eq!(canceled.status, PaymentIntentStatus::Canceled);

        let paid = create(&client, 3000, "k-2", None).await.expect("create");
        match CreateRefund::new()
            .payment_intent(paid.id.as_str())
            .send(&client)
            .await
        {
            Err(StripeError::Stripe(e, 400)) => {
                assert_eq!(e.type_, ApiErrorsType::InvalidRequestError)
            }
            other => panic!("refund before success should fail, got {other:?}"),
        }
        fake.set_status(paid.id.as_str(), "succeeded");
        let refund = CreateRefund::new()
            .payment_intent(paid.id.as_str())
            .amount(1000)
            .send(&client)
            .await
            .expect("refund");
        assert_eq!(refund.amount, 1000);
        assert_eq!(refund.status.as_deref(), Some("succeeded"));
        match CreateRefund::new()
            .payment_intent(paid.id.as_str())
            .amount(2001)
            .send(&client)
            .await
        {
            Err(StripeError::Stripe(_, 400)) => {}
            other => panic!("over-refund should fail, got {other:?}"),
        }
        assert_eq!(fake.refunds().len(), 1);
    }

    #[tokio::test]
    async fn injected_failures_surface_as_stripe_errors() {
        let fake = FakeStripe::start();
        let client = client(&fake);
        fake.fail_next(1, Failure::ServerError);
        fake.fail_next(1, Failure::CardDeclined);
        fake.fail_next(1, Failure::Timeout(Duration::from_secs(2)));

        let err = create(&client, 100, "f-1", None).await.unwrap_err();
        assert!(
            matches!(err, StripeError::Stripe(ref e, 500) if e.type_ == ApiErrorsType::ApiError),
            "{err:?}"
        );
        let err = create(&client, 100, "f-1", None).await.unwrap_err();
        assert!(
            matches!(err, StripeError::Stripe(ref e, 402) if e.code == Some(ApiErrorsCode::CardDeclined)),
            "{err:?}"
        );
        let err = create(&client, 100, "f-1", Some(Duration::from_millis(200)))
            .await
            .unwrap_err();
        assert!(matches!(err, StripeError::Timeout), "{err:?}");
        // The timed-out request was carried out; the retry gets it back.
        let pi = create(&client, 100, "f-1", None).await.expect("retry");
        assert_eq!(fake.payment_intents().len(), 1);
        assert_eq!(fake.payment_intents()[0].id, pi.id.as_str());
        // Dropping the fake must not wait for the held-back answer.
        let t0 = std::time::Instant::now();
        drop(fake);
        assert!(t0.elapsed() < Duration::from_secs(1));
    }

    #[test]
    fn webhook_payloads_verify_and_parse() {
        let secret = "whsec_fake";
        let t = now();
        let pi = FakePaymentIntent {
            id: "pi_1".into(),
            amount: 1000,
            currency: "gbp".into(),
            status: "succeeded".into(),
            metadata: BTreeMap::from([("booking_id".into(), "b1".into())]),
            client_secret: "pi_1_secret_x".into(),
            idempotency_key: None,
            latest_charge: Some("ch_1".into()),
        };
        let body = event_json(
            "evt_1",
            "payment_intent.succeeded",
            payment_intent_json(&pi),
        );
        assert_eq!(
            signature_header(secret, &body, t),
            Webhook::generate_test_header(&body, secret, Some(t))
        );
        let event = Webhook::construct_event(&body, &signature_header(secret, &body, t), secret)
            .expect("payment_intent.succeeded");
        assert!(
            matches!(event.data.object, EventObject::PaymentIntentSucceeded(ref p) if p.metadata["booking_id"] == "b1")
        );

        let body = event_json(
            "evt_2",
            "charge.refunded",
            charge_json("ch_1", "pi_1", 1000, 1000),
        );
        let event = Webhook::construct_event(&body, &signature_header(secret, &body, t), secret)
            .expect("charge.refunded");
        assert!(matches!(event.data.object, EventObject::ChargeRefunded(ref c) if c.refunded));
    }
}
