//! Notifications, end to end: the real server sends over SMTP to the
//! suite's SMTP server (and SMS to a fake Twilio-style API), and the
//! tests read what those actually received.

use chrono::{DateTime, Duration, Utc};
use clinic_api::app::notifications;
use clinic_api::config::{Settings, SmsSettings};
use clinic_api::domain::actor::Role;
use serde_json::{json, Value};

use crate::fixtures::{pay_manually, screening_token, slots, DOB};
use crate::helpers::{spawn_app_with, TestApp};
use crate::receiver::Receiver;
use crate::smtp_sink::{Mail, Reply, SmtpSink};

const FROM: &str = "JB Cosmetic <bookings@jb.example>";
const DESK: &str = "desk@jb.example";
const BASE: &str = "https://book.jb.example";

/// Settings that send e-mail to the sink, as a clinic would configure.
fn mail_to(sink: &SmtpSink, s: &mut Settings) {
    s.notifications.smtp_url = Some(sink.url());
    s.notifications.from = Some(FROM.to_owned());
    s.notifications.clinic_notify_email = Some(DESK.to_owned());
    s.clinic_contact.address = Some("1 High Street, London".to_owned());
    s.clinic_contact.phone = Some("020 7946 0000".to_owned());
    s.clinic_contact.email = Some("hello@jb.example".to_owned());
    s.public_base_url = BASE.to_owned();
}

/// A server sending e-mail to the sink, to clients only (no clinic alerts).
async fn mailing_the_client_only(sink: &SmtpSink) -> TestApp {
    spawn_app_with(|s| {
        mail_to(sink, s);
        s.notifications.clinic_notify_email = None;
    })
    .await
}

/// A Twilio-style SMS account at the fake provider.
fn sms_at(fake: &Receiver) -> SmsSettings {
    SmsSettings {
        api_base: fake.url.clone(),
        account_sid: "AC0123456789".to_owned(),
        auth_token: "sms-secret".to_owned(),
        from: "+447700900000".to_owned(),
    }
}

async fn pass(app: &TestApp) -> notifications::Pass {
    notifications::pass(&app.app).await.expect("a pass runs")
}

/// The free slot starting at `starts_at` (UTC, RFC 3339).
async fn slot_at(app: &TestApp, starts_at: &str) -> Value {
    let at: DateTime<Utc> = starts_at.parse().unwrap();
    let day = at.date_naive();
    slots(app, &day.to_string(), &day.to_string())
        .await
        .into_iter()
        .find(|s| {
            s["starts_at"]
                .as_str()
                .unwrap()
                .parse::<DateTime<Utc>>()
                .unwrap()
                == at
        })
        .unwrap_or_else(|| panic!("no free slot at {starts_at}"))
}

/// Books the slot starting at `starts_at` for Alex.
async fn book_at(app: &TestApp, starts_at: &str, notifications: Value) -> Value {
    let slot = slot_at(app, starts_at).await;
    book(app, &slot, notifications).await
}

/// Books `slot` for Alex with these notification choices.
async fn book(app: &TestApp, slot: &Value, notifications: Value) -> Value {
    let token = screening_token(app, DOB).await;
    let answer = app
        .post(
            "/v1/consultations",
            None,
            &json!({
                "client": {"full_name": "Alex Morgan", "email": "alex@example.com",
                           "phone": "+44 7700 900123", "date_of_birth": DOB},
                "screening_token": token,
                "practitioner_id": slot["practitioner_id"],
                "starts_at": slot["starts_at"],
                "accept_cancellation_policy": true,
                "notifications": notifications,
            }),
        )
        .await;
    assert_eq!(answer.status, 201, "{}", answer.text);
    answer.body
}

async fn log(app: &TestApp, id: &str, staff: &str) -> Vec<Value> {
    let answer = app
        .get(
            &format!("/v1/consultations/{id}/notifications"),
            Some(staff),
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    answer.body["items"].as_array().unwrap().clone()
}

fn to_client(mails: &[Mail]) -> Vec<Mail> {
    mails
        .iter()
        .filter(|m| m.to.iter().any(|t| t.contains("alex@example.com")))
        .cloned()
        .collect()
}

fn with_subject(mails: &[Mail], start: &str) -> Vec<Mail> {
    mails
        .iter()
        .filter(|m| m.subject().starts_with(start))
        .cloned()
        .collect()
}

/// An iCalendar document read as a calendar client would: lines unfolded,
/// components nested, each property's name, parameters and value.
struct Ics {
    props: Vec<Property>,
}

/// (component path, name, parameters, value)
type Property = (String, String, Vec<(String, String)>, String);

impl Ics {
    fn parse(doc: &str) -> Ics {
        assert!(doc.ends_with("\r\n"), "CRLF line ends");
        let unfolded = doc.replace("\r\n ", "").replace("\r\n\t", "");
        let mut stack: Vec<String> = Vec::new();
        let mut props = Vec::new();
        for line in unfolded.split("\r\n").filter(|l| !l.is_empty()) {
            // Split at the first colon outside quotes.
            let mut quoted = false;
            let colon = line
                .char_indices()
                .find(|(_, c)| {
                    if *c == '"' {
                        quoted = !quoted;
                    }
                    *c == ':' && !quoted
                })
                .map(|(i, _)| i)
                .unwrap_or_else(|| panic!("no value in {line:?}"));
            let (head, value) = (&line[..colon], &line[colon + 1..]);
            let mut parts = head.split(';');
            let name = parts.next().unwrap().to_ascii_uppercase();
            let params = parts
                .map(|p| {
                    let (k, v) = p.split_once('=').unwrap();
                    (k.to_owned(), v.trim_matches('"').to_owned())
                })
                .collect();
            match name.as_str() {
                "BEGIN" => stack.push(value.to_owned()),
                "END" => assert_eq!(stack.pop().as_deref(), Some(value), "nesting"),
                _ => props.push((stack.join("/"), name, params, value.to_owned())),
            }
        }
        assert!(stack.is_empty(), "every BEGIN has its END");
        Ics { props }
    }

    fn get(&self, component: &str, name: &str) -> Option<&str> {
        self.props
            .iter()
            .find(|(c, n, _, _)| c == component && n == name)
            .map(|(_, _, _, v)| v.as_str())
    }

    fn param(&self, component: &str, name: &str, param: &str) -> Option<&str> {
        self.props
            .iter()
            .find(|(c, n, _, _)| c == component && n == name)
            .and_then(|(_, _, ps, _)| ps.iter().find(|(k, _)| k == param))
            .map(|(_, v)| v.as_str())
    }

    fn event(&self, name: &str) -> &str {
        self.get("VCALENDAR/VEVENT", name)
            .unwrap_or_else(|| panic!("VEVENT has no {name}"))
    }
}

/// The (consultation id, token) of the manage link in a message.
fn manage_link(text: &str) -> (String, String) {
    let start = text
        .find(&format!("{BASE}/manage#id="))
        .expect("a manage link");
    let rest = &text[start + BASE.len() + "/manage#id=".len()..];
    let end = rest
        .find(|c: char| c.is_whitespace() || c == '"' || c == '<')
        .unwrap_or(rest.len());
    let (id, token) = rest[..end].split_once("&token=").expect("id and token");
    (id.to_owned(), token.to_owned())
}

#[tokio::test]
async fn confirmation_move_and_cancellation_reach_the_client_with_calendar_events() {
    let sink = SmtpSink::start();
    let app = spawn_app_with(|s| mail_to(&sink, s)).await;
    let staff = app.key(Role::Staff).await;
    let slot = slot_at(&app, "2026-12-03T12:00:00Z").await;
    let booked = book(&app, &slot, json!({"email": true})).await;
    let id = booked["id"].as_str().unwrap().to_owned();
    let original_token = booked["manage_token"].as_str().unwrap().to_owned();
    assert_eq!(
        booked["notifications"],
        json!({"email": true, "sms": false})
    );

    // Booked: the client is told how to pay, the clinic is alerted.
    let p = pass(&app).await;
    assert_eq!(p.sent, 2, "{p:?}");
    let mails = sink.mails();
    let received = with_subject(
        &to_client(&mails),
        "Your consultation at JB Cosmetic is held",
    );
    assert_eq!(received.len(), 1);
    assert!(received[0]
        .text()
        .contains("Thursday 3 December 2026 at 12:00 GMT"));
    assert!(received[0].text().contains("call us on 020 7946 0000"));
    assert!(received[0].calendar().is_none());
    let alert: Vec<_> = mails
        .iter()
        .filter(|m| m.to.iter().any(|t| t.contains(DESK)))
        .collect();
    assert_eq!(alert.len(), 1);
    assert!(alert[0]
        .subject()
        .starts_with("New booking: Thu 3 Dec, 12:00 GMT"));
    // Sent as configured: from the clinic's address, authenticated with the URL's credentials.
    assert!(mails.iter().all(|m| m.from.contains("bookings@jb.example")));
    assert!(mails
        .iter()
        .all(|m| m.user.as_deref() == Some("sender") && m.password.as_deref() == Some("s3cret")));

    // Paid: confirmed, with the event to add (METHOD:REQUEST).
    assert_eq!(pay_manually(&app, &booked, &staff).await.status, 200);
    assert_eq!(pass(&app).await.sent, 1);
    let confirmed = with_subject(&sink.mails(), "Confirmed:");
    assert_eq!(confirmed.len(), 1, "exactly one confirmation");
    let c = &confirmed[0];
    assert_eq!(
        c.subject(),
        "Confirmed: your consultation at JB Cosmetic on Thu 3 Dec, 12:00 GMT"
    );
    assert!(c
        .html()
        .contains("<a href=\"https://book.jb.example/manage#id="));
    let (method, ics) = c.calendar().expect("an .ics attachment");
    assert_eq!(method, "REQUEST");
    let ics = Ics::parse(&ics);
    assert_eq!(ics.get("VCALENDAR", "METHOD"), Some("REQUEST"));
    let uid = ics.event("UID").to_owned();
    assert_eq!(uid, format!("{id}@clinic-api"));
    assert_eq!(ics.event("SEQUENCE"), "0");
    assert_eq!(ics.event("DTSTART"), "20261203T120000");
    assert_eq!(
        ics.param("VCALENDAR/VEVENT", "DTSTART", "TZID"),
        Some("Europe/London")
    );
    assert_eq!(ics.event("STATUS"), "CONFIRMED");
    assert_eq!(ics.event("ORGANIZER"), format!("mailto:{DESK}"));
    assert_eq!(ics.event("ATTENDEE"), "mailto:alex@example.com");
    assert_eq!(
        ics.param("VCALENDAR/VEVENT", "ATTENDEE", "CN"),
        Some("Alex Morgan")
    );
    assert!(ics.get("VCALENDAR/VTIMEZONE", "TZID").is_some());

    // The link in the message opens the booking, and so does the token
    // given at booking time: each message carries a token of its own.
    let (link_id, link_token) = manage_link(&c.text());
    assert_eq!(link_id, id);
    assert_ne!(link_token, original_token);
    let (_, first_link_token) = manage_link(&received[0].text());
    for token in [&link_token, &first_link_token, &original_token] {
        let seen = app
            .get(&format!("/v1/consultations/{id}"), Some(token))
            .await;
        assert_eq!(seen.status, 200, "{}", seen.text);
    }

    // Moved: the same event, a higher SEQUENCE; reminders planned again.
    let moved = app
        .post(
            &format!("/v1/consultations/{id}/reschedule"),
            Some(&link_token),
            &json!({"starts_at": "2026-12-04T14:00:00Z"}),
        )
        .await;
    assert_eq!(moved.status, 200, "{}", moved.text);
    assert_eq!(pass(&app).await.sent, 1);
    let moved_mail = with_subject(&sink.mails(), "Moved:");
    assert_eq!(moved_mail.len(), 1);
    assert!(moved_mail[0].text().contains(
        "from Thursday 3 December 2026 at 12:00 GMT to Friday 4 December 2026 at 14:00 GMT"
    ));
    let (method, moved_ics) = moved_mail[0].calendar().unwrap();
    assert_eq!(method, "REQUEST");
    let moved_ics = Ics::parse(&moved_ics);
    assert_eq!(moved_ics.event("UID"), uid);
    assert!(moved_ics.event("SEQUENCE").parse::<u32>().unwrap() > 0);
    assert_eq!(moved_ics.event("DTSTART"), "20261204T140000");
    let entries = log(&app, &id, &staff).await;
    let reminders: Vec<(&str, i64, &str)> = entries
        .iter()
        .filter(|e| e["kind"] == "reminder")
        .map(|e| {
            (
                e["status"].as_str().unwrap(),
                e["version"].as_i64().unwrap(),
                e["send_after"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(reminders.len(), 4, "{entries:?}");
    assert!(reminders.contains(&("dropped", 0, "2026-12-01T12:00:00Z")));
    assert!(reminders.contains(&("dropped", 0, "2026-12-03T10:00:00Z")));
    assert!(reminders.contains(&("pending", 1, "2026-12-02T14:00:00Z")));
    assert!(reminders.contains(&("pending", 1, "2026-12-04T12:00:00Z")));

    // Cancelled in time by the client: METHOD:CANCEL, the deposit refunded.
    let cancelled = app
        .post(
            &format!("/v1/consultations/{id}/cancel"),
            Some(&original_token),
            &json!({}),
        )
        .await;
    assert_eq!(cancelled.status, 200, "{}", cancelled.text);
    assert_eq!(pass(&app).await.sent, 2, "the client and the clinic");
    let cancel_mail = with_subject(&to_client(&sink.mails()), "Cancelled:");
    assert_eq!(cancel_mail.len(), 1);
    assert!(cancel_mail[0]
        .text()
        .contains("Your deposit of £25.00 has been refunded."));
    let (method, cancel_ics) = cancel_mail[0].calendar().unwrap();
    assert_eq!(method, "CANCEL");
    let cancel_ics = Ics::parse(&cancel_ics);
    assert_eq!(cancel_ics.get("VCALENDAR", "METHOD"), Some("CANCEL"));
    assert_eq!(cancel_ics.event("UID"), uid);
    assert!(
        cancel_ics.event("SEQUENCE").parse::<u32>().unwrap()
            > moved_ics.event("SEQUENCE").parse::<u32>().unwrap()
    );
    assert_eq!(cancel_ics.event("STATUS"), "CANCELLED");
    let desk = with_subject(&sink.mails(), "Cancelled: Fri 4 Dec");
    assert_eq!(desk.len(), 1, "the clinic's cancellation alert");

    // The log: every message once, reminders withdrawn, the refund told by
    // the cancellation (no separate message).
    let entries = log(&app, &id, &staff).await;
    let sent: Vec<&str> = entries
        .iter()
        .filter(|e| e["status"] == "sent")
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    let mut sorted = sent.clone();
    sorted.sort();
    assert_eq!(
        sorted,
        vec![
            "booking_cancelled",
            "booking_confirmed",
            "booking_received",
            "booking_rescheduled",
            "clinic_cancellation",
            "clinic_new_booking"
        ]
    );
    assert!(entries
        .iter()
        .filter(|e| e["kind"] == "reminder")
        .all(|e| e["status"] == "dropped"));
    let first = entries
        .iter()
        .find(|e| e["kind"] == "booking_confirmed")
        .unwrap();
    assert_eq!(first["recipient"], "a***@example.com");
    assert_eq!(first["channel"], "email");
    assert_eq!(first["audience"], "client");
    assert_eq!(first["attempts"], 1);
    assert!(first["sent_at"].is_string());
    assert_eq!(sink.mails().len(), 6);
    assert!(
        pass(&app).await == notifications::Pass::default(),
        "nothing left to send"
    );
}

/// Books an appointment at `starts_at` with the clock at `now`, pays it,
/// and checks that each reminder arrives at exactly its UTC instant.
async fn reminders_arrive_at(now: &str, starts_at: &str, want: [(&str, &str); 2], local: &str) {
    let sink = SmtpSink::start();
    let app = mailing_the_client_only(&sink).await;
    app.clock.set(now.parse().unwrap());
    let staff = app.key(Role::Staff).await;
    let pid = crate::fixtures::practitioner_id(&app).await;
    // Open every day, so the appointment can sit next to a clock change.
    let every_day: Vec<Value> = [
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
    ]
    .iter()
    .map(|d| json!({"weekday": d, "opens": "00:00", "closes": "23:00"}))
    .collect();
    let hours = app
        .put(
            &format!("/v1/practitioners/{pid}/opening-hours"),
            Some(&staff),
            &json!({"windows": every_day}),
        )
        .await;
    assert_eq!(hours.status, 200, "{}", hours.text);
    let booked = book(&app, &slot_at(&app, starts_at).await, json!({})).await;
    let id = booked["id"].as_str().unwrap().to_owned();
    assert_eq!(pay_manually(&app, &booked, &staff).await.status, 200);
    // Paid before the worker ran: the "pay your deposit" message is
    // withdrawn, the confirmation goes.
    assert_eq!(pass(&app).await.sent, 1, "the confirmation");

    let planned: Vec<String> = log(&app, &id, &staff)
        .await
        .iter()
        .filter(|e| e["kind"] == "reminder")
        .map(|e| {
            format!(
                "{} {}",
                e["reminder_offset"].as_str().unwrap(),
                e["send_after"].as_str().unwrap()
            )
        })
        .collect();
    let mut expected: Vec<String> = want.iter().map(|(o, at)| format!("{o} {at}")).collect();
    expected.sort();
    let mut planned_sorted = planned.clone();
    planned_sorted.sort();
    assert_eq!(planned_sorted, expected, "planned at the UTC instants");

    for (i, (_, at)) in want.iter().enumerate() {
        let at: DateTime<Utc> = at.parse().unwrap();
        app.clock.set(at - Duration::seconds(1));
        assert_eq!(pass(&app).await.sent, 0, "not before {at}");
        app.clock.set(at);
        assert_eq!(pass(&app).await.sent, 1, "at {at}");
        let reminders = with_subject(&sink.mails(), "Reminder:");
        assert_eq!(reminders.len(), i + 1);
        let text = reminders[i].text();
        assert!(text.contains(local), "{local} in {text}");
    }
    assert_eq!(sink.mails().len(), 3);
}

#[tokio::test]
async fn reminders_go_at_their_utc_instants_on_an_ordinary_day_and_across_both_clock_changes() {
    // An ordinary winter day.
    reminders_arrive_at(
        "2026-11-25T10:00:00Z",
        "2026-12-03T12:00:00Z",
        [
            ("48h", "2026-12-01T12:00:00Z"),
            ("2h", "2026-12-03T10:00:00Z"),
        ],
        "Thursday 3 December 2026 at 12:00 GMT",
    )
    .await;
    // Clocks go forward on 29 March 2026 (01:00 UTC): the 48 h reminder of
    // Monday 10:00 BST goes at Saturday 09:00 UTC (09:00 GMT on the clock).
    reminders_arrive_at(
        "2026-03-20T10:00:00Z",
        "2026-03-30T09:00:00Z",
        [
            ("48h", "2026-03-28T09:00:00Z"),
            ("2h", "2026-03-30T07:00:00Z"),
        ],
        "Monday 30 March 2026 at 10:00 BST",
    )
    .await;
    // On the night itself: 2 h before 03:00 BST is 00:00 GMT.
    reminders_arrive_at(
        "2026-03-20T10:00:00Z",
        "2026-03-29T02:00:00Z",
        [
            ("48h", "2026-03-27T02:00:00Z"),
            ("2h", "2026-03-29T00:00:00Z"),
        ],
        "Sunday 29 March 2026 at 03:00 BST",
    )
    .await;
    // Clocks go back on 25 October 2026 (01:00 UTC): the 48 h reminder of
    // Monday 10:00 GMT goes at Saturday 10:00 UTC (11:00 BST on the clock).
    reminders_arrive_at(
        "2026-10-15T10:00:00Z",
        "2026-10-26T10:00:00Z",
        [
            ("48h", "2026-10-24T10:00:00Z"),
            ("2h", "2026-10-26T08:00:00Z"),
        ],
        "Monday 26 October 2026 at 10:00 GMT",
    )
    .await;
}

#[tokio::test]
async fn a_reminder_missed_while_down_is_sent_only_while_it_still_makes_sense() {
    let sink = SmtpSink::start();
    let app = mailing_the_client_only(&sink).await;
    let staff = app.key(Role::Staff).await;
    let booked = book_at(&app, "2026-12-03T12:00:00Z", json!({})).await;
    let id = booked["id"].as_str().unwrap().to_owned();
    pay_manually(&app, &booked, &staff).await;
    pass(&app).await;
    // Down from before the 48 h reminder until 20 h before the appointment:
    // the 48 h one is too late (less than half its offset left), and the
    // 2 h one is not due yet.
    app.clock.set("2026-12-02T16:00:00Z".parse().unwrap());
    let p = pass(&app).await;
    assert_eq!((p.sent, p.skipped), (0, 1), "{p:?}");
    // Down again through the 2 h reminder's time, back an hour before:
    // still sent, an hour late.
    app.clock.set("2026-12-03T10:59:00Z".parse().unwrap());
    assert_eq!(pass(&app).await.sent, 1);
    let entries = log(&app, &id, &staff).await;
    let status = |offset: &str| {
        entries
            .iter()
            .find(|e| e["reminder_offset"] == offset)
            .map(|e| {
                (
                    e["status"].as_str().unwrap().to_owned(),
                    e["status_reason"].clone(),
                )
            })
            .unwrap()
    };
    assert_eq!(status("48h").0, "skipped");
    assert!(status("48h").1.as_str().unwrap().contains("too late"));
    assert_eq!(status("2h").0, "sent");
    assert_eq!(with_subject(&sink.mails(), "Reminder:").len(), 1);
}

#[tokio::test]
async fn two_instances_on_one_database_send_each_message_once() {
    let sink = SmtpSink::start();
    let a = spawn_app_with(|s| {
        mail_to(&sink, s);
        // Both instances' workers run all along, every 20 ms.
        s.notifications.poll_interval = std::time::Duration::from_millis(20);
        s.notifications.reminder_offsets = Vec::new();
    })
    .await;
    let b = a.another_instance();
    let staff = a.key(Role::Staff).await;
    let all = slots(&a, "2026-12-01", "2026-12-05").await;
    let mut ids = Vec::new();
    for (i, slot) in all.iter().take(8).enumerate() {
        let booked = book(if i % 2 == 0 { &a } else { &b }, slot, json!({})).await;
        let by = if i % 2 == 0 { &b } else { &a };
        assert_eq!(pay_manually(by, &booked, &staff).await.status, 200);
        ids.push(booked["id"].as_str().unwrap().to_owned());
        // And passes on both at once, racing the loops.
        let (pa, pb) = tokio::join!(pass(&a), pass(&b));
        let _ = (pa, pb);
    }
    // Until nothing is left to send.
    let mut per_booking: Vec<Vec<Value>> = Vec::new();
    for _ in 0..200 {
        per_booking.clear();
        for id in &ids {
            per_booking.push(log(&a, id, &staff).await);
        }
        if per_booking
            .iter()
            .flatten()
            .all(|e| e["status"] != "pending" && e["status"] != "sending")
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let entries: Vec<&Value> = per_booking.iter().flatten().collect();
    assert!(
        entries
            .iter()
            .all(|e| ["sent", "dropped", "skipped"].contains(&e["status"].as_str().unwrap())),
        "{entries:?}"
    );
    let sent: Vec<&Value> = entries
        .iter()
        .copied()
        .filter(|e| e["status"] == "sent")
        .collect();
    assert!(sent.iter().all(|e| e["attempts"] == 1), "{sent:?}");
    // Each booking: the clinic's alert and the confirmation at least.
    assert!(sent.len() >= 16, "{}", sent.len());
    let mails = sink.mails();
    assert_eq!(mails.len(), sent.len(), "one message per sent entry");
    let mut message_ids: Vec<String> = mails
        .iter()
        .map(|m| m.parsed().message_id().unwrap().to_owned())
        .collect();
    message_ids.sort();
    message_ids.dedup();
    assert_eq!(message_ids.len(), mails.len(), "no message twice");
    for e in &sent {
        let want = format!("{}@jb.example", e["id"].as_str().unwrap());
        assert!(message_ids.contains(&want), "{want} was not received");
    }
    // Per booking, no kind sent twice.
    for log in &per_booking {
        let mut kinds: Vec<&str> = log
            .iter()
            .filter(|e| e["status"] == "sent")
            .map(|e| e["kind"].as_str().unwrap())
            .collect();
        let n = kinds.len();
        kinds.sort();
        kinds.dedup();
        assert_eq!(kinds.len(), n, "{log:?}");
        assert!(kinds.contains(&"booking_confirmed") && kinds.contains(&"clinic_new_booking"));
    }
}

#[tokio::test]
async fn messages_pending_at_a_restart_are_sent_after_it() {
    let sink = SmtpSink::start();
    let app = spawn_app_with(|s| mail_to(&sink, s)).await;
    let staff = app.key(Role::Staff).await;
    let booked = book_at(&app, "2026-12-03T12:00:00Z", json!({})).await;
    pay_manually(&app, &booked, &staff).await;
    // Nothing was sent (the worker runs only by hand here); then a restart.
    assert!(sink.mails().is_empty());
    let app = app.restart().await;
    // The worker's first pass at start sends what was pending.
    let mails = sink.wait_for(2).await;
    assert_eq!(with_subject(&mails, "Confirmed:").len(), 1);
    assert_eq!(with_subject(&mails, "New booking:").len(), 1);

    // An instance that stopped in the middle of sending: its claim holds
    // until its lease ends, then the message goes (once).
    let second = book_at(&app, "2026-12-03T13:00:00Z", json!({})).await;
    let now = app.now();
    let claimed = app
        .app
        .write(move |tx| {
            Ok(clinic_api::store::notifications::claim_due(
                tx.conn,
                now,
                now + Duration::minutes(10),
                100,
            )?)
        })
        .await
        .unwrap();
    assert_eq!(claimed.len(), 2, "the received message and the alert");
    let app = app.restart().await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(pass(&app).await.sent, 0, "still leased");
    app.clock.advance(Duration::minutes(11));
    assert_eq!(pass(&app).await.sent, 2);
    let id = second["id"].as_str().unwrap();
    let entries = log(&app, id, &staff).await;
    assert!(entries.iter().all(|e| e["status"] == "sent"), "{entries:?}");
    assert_eq!(sink.mails().len(), 4);
}

#[tokio::test]
async fn a_failing_smtp_server_is_retried_with_backoff_and_a_refusal_is_given_up() {
    let sink = SmtpSink::start();
    let app = mailing_the_client_only(&sink).await;
    let staff = app.key(Role::Staff).await;
    sink.script([Reply::Temporary(451), Reply::Temporary(421)]);
    let booked = book_at(&app, "2026-12-03T12:00:00Z", json!({})).await;
    let id = booked["id"].as_str().unwrap().to_owned();
    assert_eq!(pass(&app).await.retrying, 1);
    let entry = log(&app, &id, &staff).await.remove(0);
    assert_eq!(entry["status"], "pending");
    assert_eq!(entry["attempts"], 1);
    assert_eq!(entry["last_error"], "SMTP 451");
    assert_eq!(
        entry["next_attempt_at"], "2026-11-25T10:01:00Z",
        "a minute later"
    );
    assert_eq!(pass(&app).await.sent, 0, "not before its time");
    app.clock.advance(Duration::minutes(1));
    assert_eq!(pass(&app).await.retrying, 1);
    app.clock.advance(Duration::minutes(2));
    assert_eq!(pass(&app).await.sent, 1);
    let entry = log(&app, &id, &staff).await.remove(0);
    assert_eq!(
        (entry["status"].as_str(), entry["attempts"].as_i64()),
        (Some("sent"), Some(3))
    );
    assert_eq!(sink.refused(), 2);
    assert_eq!(sink.mails().len(), 1);

    // Refused for good (5xx): retried twice more, then failed and left.
    sink.script([Reply::Permanent(554); 5]);
    pay_manually(&app, &booked, &staff).await;
    assert_eq!(pass(&app).await.retrying, 1);
    app.clock.advance(Duration::minutes(1));
    assert_eq!(pass(&app).await.retrying, 1);
    app.clock.advance(Duration::minutes(2));
    assert_eq!(pass(&app).await.failed, 1);
    app.clock.advance(Duration::hours(3));
    assert_eq!(pass(&app).await, notifications::Pass::default());
    let confirmed = log(&app, &id, &staff)
        .await
        .into_iter()
        .find(|e| e["kind"] == "booking_confirmed")
        .unwrap();
    assert_eq!(confirmed["status"], "failed");
    assert_eq!(confirmed["attempts"], 3);
    assert_eq!(confirmed["last_error"], "SMTP 554");
    assert_eq!(sink.refused(), 5);

    // A server that does not answer at all is retried too.
    drop(sink);
    let resent = app
        .post(
            &format!(
                "/v1/consultations/{id}/notifications/{}/resend",
                confirmed["id"].as_str().unwrap()
            ),
            Some(&staff),
            &json!({}),
        )
        .await;
    assert_eq!(resent.status, 202, "{}", resent.text);
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert_eq!(pass(&app).await.retrying, 1);
}

#[tokio::test]
async fn no_message_carries_health_data_the_date_of_birth_notes_or_other_tokens() {
    let sink = SmtpSink::start();
    let sms = Receiver::start();
    let app = spawn_app_with(|s| {
        mail_to(&sink, s);
        s.notifications.sms = Some(sms_at(&sms));
    })
    .await;
    let staff = app.key(Role::Staff).await;
    // A screening that asks for the practitioner's review.
    let screening = app
        .post(
            "/v1/screenings",
            None,
            &json!({"date_of_birth": DOB, "pregnant": false, "breastfeeding": false,
                    "autoimmune_condition": false, "active_infection_at_site": false,
                    "other_medical_conditions": true}),
        )
        .await;
    assert_eq!(screening.body["outcome"], "needs_review");
    let screening_token = screening.body["screening_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let slot = slot_at(&app, "2026-12-03T12:00:00Z").await;
    let booked = app
        .post(
            "/v1/consultations",
            None,
            &json!({
                "client": {"full_name": "Alex Morgan", "email": "alex@example.com",
                           "phone": "+44 7700 900123", "date_of_birth": DOB},
                "screening_token": screening_token,
                "practitioner_id": slot["practitioner_id"], "starts_at": slot["starts_at"],
                "notes": "Cold sores on the left lip last month",
                "accept_cancellation_policy": true,
                "notifications": {"email": true, "sms": true},
            }),
        )
        .await;
    assert_eq!(booked.status, 201, "{}", booked.text);
    let id = booked.body["id"].as_str().unwrap().to_owned();
    let manage_token = booked.body["manage_token"].as_str().unwrap().to_owned();
    pass(&app).await;
    pay_manually(&app, &booked.body, &staff).await;
    pass(&app).await;
    let moved = app
        .post(
            &format!("/v1/consultations/{id}/reschedule"),
            Some(&manage_token),
            &json!({"starts_at": "2026-12-04T14:00:00Z"}),
        )
        .await;
    assert_eq!(moved.status, 200, "{}", moved.text);
    for at in ["2026-12-02T14:00:00Z", "2026-12-04T12:00:00Z"] {
        app.clock.set(at.parse().unwrap());
        pass(&app).await;
    }
    let cancelled = app
        .post(
            &format!("/v1/consultations/{id}/cancel"),
            Some(&staff),
            &json!({}),
        )
        .await;
    assert_eq!(cancelled.status, 200, "{}", cancelled.text);
    pass(&app).await;

    // Every message, e-mail and SMS, and every preview.
    let mut texts: Vec<String> = sink.mails().iter().map(Mail::everything).collect();
    assert!(texts.len() >= 8, "{}", texts.len());
    let sms_sent = sms.received();
    assert_eq!(
        sms_sent.len(),
        6,
        "received, confirmed, moved, two reminders, cancelled"
    );
    for r in &sms_sent {
        let form: Vec<(String, String)> = reqwest::Url::parse(&format!("http://x/?{}", r.body))
            .unwrap()
            .query_pairs()
            .into_owned()
            .collect();
        let field = |k: &str| {
            form.iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.clone())
                .unwrap()
        };
        assert_eq!(field("To"), "+447700900123");
        assert_eq!(field("From"), "+447700900000");
        assert!(field("Body").starts_with("JB Cosmetic: "));
        assert!(r.headers["authorization"].starts_with("Basic "));
        texts.push(field("Body"));
    }
    for kind in [
        "booking_received",
        "booking_confirmed",
        "booking_rescheduled",
        "booking_cancelled",
        "hold_expired",
        "late_payment",
        "deposit_refunded",
        "deposit_forfeited",
        "deposit_redeemed",
        "reminder",
        "clinic_new_booking",
        "clinic_cancellation",
    ] {
        for channel in ["email", "sms"] {
            let p = app
                .get(
                    &format!("/v1/consultations/{id}/notifications/preview?kind={kind}&channel={channel}"),
                    Some(&staff),
                )
                .await;
            assert_eq!(p.status, 200, "{}", p.text);
            texts.push(p.text);
        }
    }
    for text in &texts {
        for secret in [
            DOB,
            "12 April 1990",
            "12/04/1990",
            "April 12",
            "Cold sores",
            "review",
            "other_medical",
            "pregnan",
            "breastfeed",
            "autoimmune",
            "infection",
            "needs_review",
            "eligib",
            screening_token.as_str(),
            manage_token.as_str(),
            &staff,
            "sms-secret",
        ] {
            assert!(
                !text.contains(secret),
                "a message contains {secret:?}:\n{text}"
            );
        }
    }
}

#[tokio::test]
async fn staff_read_the_log_resend_and_preview_messages() {
    let sink = SmtpSink::start();
    let app = spawn_app_with(|s| mail_to(&sink, s)).await;
    let staff = app.key(Role::Staff).await;
    let partner = app.key(Role::Partner).await;
    let booked = book_at(&app, "2026-12-03T12:00:00Z", json!({})).await;
    let id = booked["id"].as_str().unwrap().to_owned();
    let token = booked["manage_token"].as_str().unwrap().to_owned();
    let path = format!("/v1/consultations/{id}/notifications");
    app.get(&path, None)
        .await
        .assert_problem(401, "unauthorized");
    app.get(&path, Some(&partner))
        .await
        .assert_problem(403, "forbidden");
    app.get(&path, Some(&token))
        .await
        .assert_problem(401, "unauthorized");
    app.get(
        "/v1/consultations/00000000-0000-4000-8000-000000000000/notifications",
        Some(&staff),
    )
    .await
    .assert_problem(404, "not_found");
    let pending = app.get(&path, Some(&staff)).await;
    assert_eq!(pending.header("cache-control"), Some("no-store"));
    let items = pending.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert!(items.iter().all(|e| e["status"] == "pending"));
    let received = items
        .iter()
        .find(|e| e["kind"] == "booking_received")
        .unwrap();
    let alert = items
        .iter()
        .find(|e| e["kind"] == "clinic_new_booking")
        .unwrap();
    assert_eq!(alert["recipient"], "d***@jb.example");
    assert_eq!(alert["audience"], "clinic");
    let resend = format!("{path}/{}/resend", received["id"].as_str().unwrap());
    app.post(&resend, Some(&staff), &json!({}))
        .await
        .assert_problem(409, "notification_pending");

    // Paging.
    let first = app.get(&format!("{path}?limit=1"), Some(&staff)).await;
    assert_eq!(first.body["items"].as_array().unwrap().len(), 1);
    let next = first.body["next"].as_str().expect("a next link");
    let second = app.get(next, Some(&staff)).await;
    assert_eq!(second.body["items"].as_array().unwrap().len(), 1);
    assert_ne!(second.body["items"][0]["id"], first.body["items"][0]["id"]);

    pass(&app).await;
    let copy = app.post(&resend, Some(&staff), &json!({})).await;
    assert_eq!(copy.status, 202, "{}", copy.text);
    assert_eq!(copy.body["resend_number"], 1);
    assert_eq!(copy.body["status"], "pending");
    assert_eq!(pass(&app).await.sent, 1);
    assert_eq!(
        with_subject(&sink.mails(), "Your consultation at JB Cosmetic is held").len(),
        2
    );
    app.post(
        &format!("{path}/00000000-0000-4000-8000-000000000000/resend"),
        Some(&staff),
        &json!({}),
    )
    .await
    .assert_problem(404, "not_found");
    let audit = app
        .get(
            &format!("/v1/audit-events?subject_id={id}&action=notification.resent"),
            Some(&app.key(Role::Admin).await),
        )
        .await;
    assert_eq!(
        audit.body["items"].as_array().unwrap().len(),
        1,
        "{}",
        audit.text
    );

    // Preview: rendered as it would be sent, nothing sent, no token issued.
    let before = sink.mails().len();
    let preview = app
        .get(
            &format!("{path}/preview?kind=booking_confirmed"),
            Some(&staff),
        )
        .await;
    assert_eq!(preview.status, 200, "{}", preview.text);
    assert_eq!(preview.header("cache-control"), Some("no-store"));
    assert_eq!(preview.body["channel"], "email");
    assert_eq!(preview.body["recipient"], "a***@example.com");
    assert!(preview.body["subject"]
        .as_str()
        .unwrap()
        .starts_with("Confirmed:"));
    assert!(preview.body["html"].as_str().unwrap().contains("<p>"));
    assert_eq!(preview.body["calendar_method"], "REQUEST");
    let ics = Ics::parse(preview.body["calendar"].as_str().unwrap());
    assert_eq!(ics.event("UID"), format!("{id}@clinic-api"));
    let (_, placeholder) = manage_link(preview.body["text"].as_str().unwrap());
    assert_eq!(placeholder, notifications::PREVIEW_TOKEN);
    app.get(&format!("/v1/consultations/{id}"), Some(&placeholder))
        .await
        .assert_problem(401, "unauthorized");
    let sms = app
        .get(
            &format!("{path}/preview?kind=reminder&channel=sms"),
            Some(&staff),
        )
        .await;
    assert_eq!(sms.status, 200);
    assert!(sms.body["html"].is_null());
    assert!(sms.body["text"]
        .as_str()
        .unwrap()
        .starts_with("JB Cosmetic: reminder"));
    assert_eq!(sms.body["recipient"], "***123");
    assert_eq!(
        app.get(&format!("{path}/preview?kind=birthday"), Some(&staff))
            .await
            .status
            / 100,
        4
    );
    assert_eq!(sink.mails().len(), before, "a preview sends nothing");
}

#[tokio::test]
async fn with_no_channel_configured_messages_are_recorded_not_sent() {
    let app = crate::helpers::spawn_app().await;
    let staff = app.key(Role::Staff).await;
    let booked = book_at(&app, "2026-12-03T12:00:00Z", json!({"sms": true})).await;
    let id = booked["id"].as_str().unwrap();
    let p = pass(&app).await;
    assert_eq!(
        (p.sent, p.recorded),
        (0, 2),
        "e-mail and SMS, no clinic address"
    );
    let entries = log(&app, id, &staff).await;
    assert_eq!(entries.len(), 2);
    for e in &entries {
        assert_eq!(e["status"], "recorded");
        assert_eq!(e["status_reason"], "no channel is configured");
        assert!(e["sent_at"].is_string());
    }
    let channels: Vec<&str> = entries
        .iter()
        .map(|e| e["channel"].as_str().unwrap())
        .collect();
    assert!(channels.contains(&"email") && channels.contains(&"sms"));
    let text = app
        .get(
            &format!("/v1/consultations/{id}/notifications/preview?kind=booking_received"),
            Some(&staff),
        )
        .await;
    assert!(text.body["text"]
        .as_str()
        .unwrap()
        .contains("We are holding the slot for you until 10:15 GMT"));
}

#[tokio::test]
async fn the_log_is_exported_and_erased_with_the_client_and_its_links_stop_working() {
    let sink = SmtpSink::start();
    let app = spawn_app_with(|s| mail_to(&sink, s)).await;
    let admin = app.key(Role::Admin).await;
    let booked = book_at(&app, "2026-12-03T12:00:00Z", json!({})).await;
    let id = booked["id"].as_str().unwrap().to_owned();
    let token = booked["manage_token"].as_str().unwrap().to_owned();
    pass(&app).await;
    let (_, link_token) = manage_link(&to_client(&sink.mails())[0].text());
    let cancel = app
        .post(
            &format!("/v1/consultations/{id}/cancel"),
            Some(&token),
            &json!({}),
        )
        .await;
    assert_eq!(cancel.status, 200, "{}", cancel.text);
    pass(&app).await;
    let client_id = app
        .get(&format!("/v1/consultations/{id}"), Some(&admin))
        .await;
    let clients = app.get("/v1/clients?q=alex", Some(&admin)).await;
    let client = clients.body["items"][0]["id"].as_str().unwrap().to_owned();
    let _ = client_id;
    let export = app
        .get(&format!("/v1/clients/{client}/export"), Some(&admin))
        .await;
    assert_eq!(export.status, 200, "{}", export.text);
    let logged = export.body["notifications"].as_array().unwrap();
    assert_eq!(logged.len(), 4, "{logged:?}");
    assert!(logged
        .iter()
        .all(|e| e["recipient"].as_str().unwrap().contains("***")));
    assert!(!export.text.contains(&link_token));

    let erased = app
        .post(
            &format!("/v1/clients/{client}/erasure"),
            Some(&admin),
            &json!({}),
        )
        .await;
    assert_eq!(erased.status, 200, "{}", erased.text);
    assert!(
        log(&app, &id, &admin).await.is_empty(),
        "the log went with the client"
    );
    app.get(&format!("/v1/consultations/{id}"), Some(&link_token))
        .await
        .assert_problem(401, "unauthorized");
}

#[tokio::test]
async fn finished_log_entries_are_deleted_after_the_retention_period() {
    let app = crate::helpers::spawn_app().await;
    let staff = app.key(Role::Staff).await;
    let booked = book_at(&app, "2026-12-03T12:00:00Z", json!({})).await;
    let id = booked["id"].as_str().unwrap().to_owned();
    pay_manually(&app, &booked, &staff).await;
    assert_eq!(pass(&app).await.recorded, 1, "the confirmation");
    // A year and a day later: the finished entries go, what is pending stays.
    app.clock.advance(Duration::days(366));
    let report = clinic_api::app::maintenance::run_once(&app.app)
        .await
        .unwrap();
    assert_eq!(report.notifications_purged, 2, "{report:?}");
    let left = log(&app, &id, &staff).await;
    assert!(left.iter().all(|e| e["kind"] == "reminder"), "{left:?}");
}

#[tokio::test]
async fn sms_outages_are_retried_and_an_invalid_number_is_given_up_at_once() {
    let sms = Receiver::start();
    let app = spawn_app_with(|s| {
        s.notifications.sms = Some(sms_at(&sms));
    })
    .await;
    let staff = app.key(Role::Staff).await;
    sms.script([
        crate::receiver::Answer::Status(503),
        crate::receiver::Answer::Json(400, r#"{"code": 21211, "message": "invalid To"}"#.into()),
    ]);
    let booked = book_at(
        &app,
        "2026-12-03T12:00:00Z",
        json!({"email": false, "sms": true}),
    )
    .await;
    let id = booked["id"].as_str().unwrap();
    assert_eq!(pass(&app).await.retrying, 1);
    app.clock.advance(Duration::minutes(1));
    assert_eq!(pass(&app).await.failed, 1);
    let entries = log(&app, id, &staff).await;
    assert_eq!(entries.len(), 1, "SMS only, as chosen");
    let e = &entries[0];
    assert_eq!(
        (e["channel"].as_str(), e["status"].as_str()),
        (Some("sms"), Some("failed"))
    );
    assert_eq!(e["attempts"], 2);
    assert_eq!(e["last_error"], "HTTP 400 (code 21211)");
    assert_eq!(e["recipient"], "***123");
    assert_eq!(sms.received().len(), 2);
    assert!(sms.received()[0].headers["idempotency-key"] == e["id"].as_str().unwrap());
}
