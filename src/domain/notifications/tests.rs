use super::*;

fn t(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn booking(status: Status, starts_at: &str) -> BookingState {
    BookingState {
        status,
        starts_at: t(starts_at),
        sequence: 0,
        updated_at: t("2026-11-25T10:00:00Z"),
        hold_expires_at: Some(t("2026-11-25T10:15:00Z")),
        notify_email: true,
        notify_sms: false,
        has_email: true,
        has_phone: true,
    }
}

const OFFSETS: [Duration; 2] = [Duration::hours(48), Duration::hours(2)];

fn rules(clinic_alerts: bool) -> Rules<'static> {
    Rules {
        reminder_offsets: &OFFSETS,
        clinic_alerts,
    }
}

fn kinds(plan: &Plan) -> Vec<(Kind, Channel)> {
    plan.messages.iter().map(|m| (m.kind, m.channel)).collect()
}

#[test]
fn a_booking_tells_the_client_and_alerts_the_clinic() {
    let now = t("2026-11-25T10:00:00Z");
    let b = booking(Status::PendingDeposit, "2026-12-03T10:00:00Z");
    let p = plan(
        EventType::ConsultationCreated.into(),
        None,
        &b,
        &rules(true),
        now,
    );
    assert_eq!(
        kinds(&p),
        vec![
            (Kind::BookingReceived, Channel::Email),
            (Kind::ClinicNewBooking, Channel::Email)
        ]
    );
    assert!(p.messages.iter().all(|m| m.send_after == now));
    let quiet = plan(
        EventType::ConsultationCreated.into(),
        None,
        &b,
        &rules(false),
        now,
    );
    assert_eq!(kinds(&quiet), vec![(Kind::BookingReceived, Channel::Email)]);
}

#[test]
fn the_client_chooses_the_channels_and_sms_is_opt_in() {
    let now = t("2026-11-25T10:00:00Z");
    let mut b = booking(Status::PendingDeposit, "2026-12-03T10:00:00Z");
    b.notify_sms = true;
    assert_eq!(client_channels(&b), vec![Channel::Email, Channel::Sms]);
    b.notify_email = false;
    assert_eq!(client_channels(&b), vec![Channel::Sms]);
    b.has_phone = false; // erased
    assert!(client_channels(&b).is_empty());
    let p = plan(
        EventType::ConsultationCreated.into(),
        None,
        &b,
        &rules(false),
        now,
    );
    assert!(p.messages.is_empty());
}

#[test]
fn confirmation_plans_the_reminders_still_to_come() {
    let now = t("2026-11-25T10:15:00Z");
    let b = booking(Status::Confirmed, "2026-12-03T10:00:00Z");
    let p = plan(
        EventType::ConsultationConfirmed.into(),
        None,
        &b,
        &rules(true),
        now,
    );
    assert_eq!(
        kinds(&p),
        vec![
            (Kind::BookingConfirmed, Channel::Email),
            (Kind::Reminder, Channel::Email),
            (Kind::Reminder, Channel::Email),
        ]
    );
    assert_eq!(p.messages[1].send_after, t("2026-12-01T10:00:00Z"));
    assert_eq!(p.messages[1].offset, Duration::hours(48));
    assert_eq!(p.messages[2].send_after, t("2026-12-03T08:00:00Z"));
    assert!(p.drop.contains(&Kind::BookingReceived));
    // Booked 30 hours ahead: the 48 h reminder's time has passed.
    let soon = booking(Status::Confirmed, "2026-11-26T16:15:00Z");
    let p = plan(
        EventType::ConsultationConfirmed.into(),
        None,
        &soon,
        &rules(true),
        now,
    );
    let reminders: Vec<_> = p
        .messages
        .iter()
        .filter(|m| m.kind == Kind::Reminder)
        .collect();
    assert_eq!(reminders.len(), 1);
    assert_eq!(reminders[0].offset, Duration::hours(2));
}

#[test]
fn reminders_are_elapsed_time_before_the_utc_start_across_both_clock_changes() {
    let london = chrono_tz::Europe::London;
    let early = t("2026-01-01T00:00:00Z");
    // Ordinary day: Thursday 3 December 2026, 10:00 GMT.
    let times = reminder_times(t("2026-12-03T10:00:00Z"), &OFFSETS, early);
    assert_eq!(
        times,
        vec![
            (Duration::hours(48), t("2026-12-01T10:00:00Z")),
            (Duration::hours(2), t("2026-12-03T08:00:00Z")),
        ]
    );
    // Spring: clocks go forward on Sunday 29 March 2026 at 01:00 UTC.
    // Monday 30 March 10:00 BST is 09:00 UTC; 48 h before is Saturday
    // 09:00 UTC, which is 09:00 GMT on the wall clock — an hour earlier on
    // the clock than the appointment, exactly 48 hours before it.
    let spring = reminder_times(t("2026-03-30T09:00:00Z"), &OFFSETS, early);
    assert_eq!(spring[0].1, t("2026-03-28T09:00:00Z"));
    assert_eq!(
        spring[0]
            .1
            .with_timezone(&london)
            .format("%H:%M %Z")
            .to_string(),
        "09:00 GMT"
    );
    // Two hours before 03:00 BST on the change day itself is 00:00 GMT.
    let night = reminder_times(t("2026-03-29T02:00:00Z"), &OFFSETS, early);
    assert_eq!(night[1].1, t("2026-03-29T00:00:00Z"));
    assert_eq!(
        night[1]
            .1
            .with_timezone(&london)
            .format("%H:%M %Z")
            .to_string(),
        "00:00 GMT"
    );
    // Autumn: clocks go back on Sunday 25 October 2026 at 01:00 UTC.
    // Monday 26 October 10:00 GMT; 48 h before is Saturday 10:00 UTC,
    // 11:00 BST on the wall clock.
    let autumn = reminder_times(t("2026-10-26T10:00:00Z"), &OFFSETS, early);
    assert_eq!(autumn[0].1, t("2026-10-24T10:00:00Z"));
    assert_eq!(
        autumn[0]
            .1
            .with_timezone(&london)
            .format("%H:%M %Z")
            .to_string(),
        "11:00 BST"
    );
    // Every reminder is exactly its offset before, in real time.
    for (offset, at) in spring.iter().chain(&autumn).chain(&night) {
        assert!(*at < t("2026-10-27T00:00:00Z"));
        assert!(offset.num_hours() == 48 || offset.num_hours() == 2);
    }
}

#[test]
fn a_move_withdraws_the_old_reminders_and_plans_new_ones() {
    let now = t("2026-11-26T09:00:00Z");
    let before = booking(Status::Confirmed, "2026-12-03T10:00:00Z");
    let mut after = booking(Status::Confirmed, "2026-12-04T14:00:00Z");
    after.sequence = 1;
    let p = plan(
        EventType::ConsultationRescheduled.into(),
        Some(&before),
        &after,
        &rules(true),
        now,
    );
    assert!(p.drop.contains(&Kind::Reminder));
    assert!(p.drop.contains(&Kind::BookingRescheduled));
    assert_eq!(p.messages[0].kind, Kind::BookingRescheduled);
    assert_eq!(p.messages[0].version, 1);
    assert_eq!(p.messages[0].previous_starts_at, Some(before.starts_at));
    let reminders: Vec<_> = p
        .messages
        .iter()
        .filter(|m| m.kind == Kind::Reminder)
        .map(|m| (m.version, m.send_after))
        .collect();
    assert_eq!(
        reminders,
        vec![
            (1, t("2026-12-02T14:00:00Z")),
            (1, t("2026-12-04T12:00:00Z"))
        ]
    );
    // An unpaid hold that moves gets no reminders.
    let pending = booking(Status::PendingDeposit, "2026-12-04T14:00:00Z");
    let p = plan(
        EventType::ConsultationRescheduled.into(),
        Some(&before),
        &pending,
        &rules(true),
        now,
    );
    assert!(p.messages.iter().all(|m| m.kind != Kind::Reminder));
}

#[test]
fn endings_withdraw_what_is_about_the_appointment() {
    let now = t("2026-11-26T09:00:00Z");
    for (event, status, told) in [
        (
            EventType::ConsultationCancelled,
            Status::Cancelled,
            vec![Kind::BookingCancelled, Kind::ClinicCancellation],
        ),
        (
            EventType::ConsultationExpired,
            Status::Expired,
            vec![Kind::HoldExpired],
        ),
        (EventType::ConsultationAttended, Status::Attended, vec![]),
        (EventType::ConsultationNoShow, Status::NoShow, vec![]),
    ] {
        let b = booking(status, "2026-12-03T10:00:00Z");
        let p = plan(event.into(), None, &b, &rules(true), now);
        for k in [
            Kind::Reminder,
            Kind::BookingConfirmed,
            Kind::BookingReceived,
        ] {
            assert!(p.drop.contains(&k), "{event:?} keeps {k:?}");
        }
        let planned: Vec<Kind> = p.messages.iter().map(|m| m.kind).collect();
        assert_eq!(planned, told, "{event:?}");
    }
}

#[test]
fn a_deposit_settled_with_the_cancellation_is_told_by_it() {
    let now = t("2026-11-26T09:00:00Z");
    let mut cancelled = booking(Status::Cancelled, "2026-12-03T10:00:00Z");
    cancelled.updated_at = now;
    for event in [EventType::DepositRefunded, EventType::DepositForfeited] {
        let p = plan(event.into(), None, &cancelled, &rules(true), now);
        assert!(p.messages.is_empty(), "{event:?}");
        // Later (a Stripe refund completing), it is its own message.
        let later = plan(
            event.into(),
            None,
            &cancelled,
            &rules(true),
            now + Duration::minutes(3),
        );
        assert_eq!(later.messages.len(), 1, "{event:?}");
    }
    let mut no_show = booking(Status::NoShow, "2026-11-26T08:00:00Z");
    no_show.updated_at = now;
    let p = plan(
        EventType::DepositForfeited.into(),
        None,
        &no_show,
        &rules(true),
        now,
    );
    assert_eq!(kinds(&p), vec![(Kind::DepositForfeited, Channel::Email)]);
    let redeemed = plan(
        EventType::DepositRedeemed.into(),
        None,
        &booking(Status::Attended, "2026-11-26T08:00:00Z"),
        &rules(true),
        now,
    );
    assert_eq!(
        kinds(&redeemed),
        vec![(Kind::DepositRedeemed, Channel::Email)]
    );
    assert!(plan(
        EventType::DepositPaid.into(),
        None,
        &booking(Status::Confirmed, "2026-12-03T10:00:00Z"),
        &rules(true),
        now
    )
    .messages
    .is_empty());
    let lost = plan(
        BookingChange::ConsultationSlotLost,
        None,
        &booking(Status::Expired, "2026-12-03T10:00:00Z"),
        &rules(true),
        now,
    );
    assert_eq!(kinds(&lost), vec![(Kind::LatePayment, Channel::Email)]);
    assert_eq!(lost.drop, vec![Kind::HoldExpired]);
}

fn reminder(offset_hours: i64) -> Due {
    Due {
        kind: Kind::Reminder,
        version: 0,
        offset: Duration::hours(offset_hours),
        resend: false,
    }
}

#[test]
fn a_late_reminder_is_sent_while_half_its_offset_remains() {
    let b = booking(Status::Confirmed, "2026-12-03T10:00:00Z");
    let v = |due: &Due, now: &str| verdict(due, &b, &OFFSETS, t(now));
    assert_eq!(v(&reminder(48), "2026-12-01T10:00:00Z"), Verdict::Send);
    // Down for a day: 24 h remain, the limit.
    assert_eq!(v(&reminder(48), "2026-12-02T09:59:59Z"), Verdict::Send);
    assert!(matches!(
        v(&reminder(48), "2026-12-02T10:00:00Z"),
        Verdict::Skip(_)
    ));
    assert_eq!(v(&reminder(2), "2026-12-03T08:59:00Z"), Verdict::Send);
    assert!(matches!(
        v(&reminder(2), "2026-12-03T09:00:00Z"),
        Verdict::Skip(_)
    ));
    // Never after the appointment, even for a resend.
    let resend = Due {
        resend: true,
        ..reminder(2)
    };
    assert_eq!(v(&resend, "2026-12-03T09:30:00Z"), Verdict::Send);
    assert!(matches!(
        v(&resend, "2026-12-03T10:00:00Z"),
        Verdict::Skip(_)
    ));
}

#[test]
fn a_far_reminder_gives_way_to_a_nearer_one_that_is_also_due() {
    let offsets = [Duration::hours(72), Duration::hours(48)];
    let b = booking(Status::Confirmed, "2026-12-04T10:00:00Z");
    // Down from before the 72 h reminder until after the 48 h one.
    let now = t("2026-12-02T12:00:00Z");
    assert!(matches!(
        verdict(&reminder(72), &b, &offsets, now),
        Verdict::Skip("a nearer reminder is due")
    ));
    assert_eq!(verdict(&reminder(48), &b, &offsets, now), Verdict::Send);
}

#[test]
fn stale_messages_are_skipped_when_their_time_comes() {
    let now = t("2026-11-26T09:00:00Z");
    let mut moved = booking(Status::Confirmed, "2026-12-03T10:00:00Z");
    moved.sequence = 2;
    assert!(matches!(
        verdict(&reminder(48), &moved, &OFFSETS, now),
        Verdict::Skip(_)
    ));
    let cancelled = booking(Status::Cancelled, "2026-12-03T10:00:00Z");
    for kind in [
        Kind::BookingConfirmed,
        Kind::BookingReceived,
        Kind::Reminder,
    ] {
        let due = Due {
            kind,
            version: 0,
            offset: Duration::hours(48),
            resend: false,
        };
        assert!(matches!(
            verdict(&due, &cancelled, &OFFSETS, now),
            Verdict::Skip(_)
        ));
    }
    let money = Due {
        kind: Kind::DepositRefunded,
        version: 0,
        offset: Duration::zero(),
        resend: false,
    };
    assert_eq!(verdict(&money, &cancelled, &OFFSETS, now), Verdict::Send);
    // A hold that lapsed is not asked to pay.
    let lapsed = booking(Status::PendingDeposit, "2026-12-03T10:00:00Z");
    let received = Due {
        kind: Kind::BookingReceived,
        version: 0,
        offset: Duration::zero(),
        resend: false,
    };
    assert!(matches!(
        verdict(&received, &lapsed, &OFFSETS, t("2026-11-25T10:15:00Z")),
        Verdict::Skip(_)
    ));
}

#[test]
fn failures_are_retried_with_backoff_then_given_up() {
    let now = t("2026-11-26T09:00:00Z");
    assert_eq!(backoff(1), Duration::minutes(1));
    assert_eq!(backoff(2), Duration::minutes(2));
    assert_eq!(backoff(5), Duration::minutes(16));
    assert_eq!(backoff(9), Duration::hours(1));
    assert_eq!(
        retry_at(Failure::Transient, 1, now),
        Some(now + Duration::minutes(1))
    );
    assert!(retry_at(Failure::Transient, MAX_ATTEMPTS - 1, now).is_some());
    assert_eq!(retry_at(Failure::Transient, MAX_ATTEMPTS, now), None);
    assert!(retry_at(Failure::Refused, MAX_REFUSED_ATTEMPTS - 1, now).is_some());
    assert_eq!(retry_at(Failure::Refused, MAX_REFUSED_ATTEMPTS, now), None);
    assert_eq!(retry_at(Failure::Invalid, 1, now), None);
}

#[test]
fn recipients_are_masked() {
    assert_eq!(mask_email("alex@example.com"), "a***@example.com");
    assert_eq!(mask_email(""), "***");
    assert_eq!(mask_phone("+44 7700 900123"), "***123");
    assert_eq!(mask_phone(""), "***");
}

#[test]
fn offsets_are_parsed_longest_first() {
    assert_eq!(
        parse_offsets("2h, 48h").unwrap(),
        vec![Duration::hours(48), Duration::hours(2)]
    );
    assert_eq!(
        parse_offsets("90m,1d").unwrap(),
        vec![Duration::days(1), Duration::minutes(90)]
    );
    assert!(parse_offsets("none").unwrap().is_empty());
    for bad in [
        "0h",
        "31d",
        "2h,2h",
        "2w",
        "h",
        "4é",
        "99999999999999999999h",
    ] {
        assert!(parse_offsets(bad).is_err(), "{bad}");
    }
    assert_eq!(offset_label(Duration::hours(48)), "48h");
    assert_eq!(offset_label(Duration::minutes(90)), "90m");
}

#[test]
fn names_round_trip() {
    for k in Kind::ALL {
        assert_eq!(Kind::parse(k.as_str()), Some(k));
        assert_eq!(
            serde_json::to_value(k).unwrap(),
            serde_json::json!(k.as_str())
        );
    }
    for s in DeliveryStatus::ALL {
        assert_eq!(DeliveryStatus::parse(s.as_str()), Some(s));
        assert_eq!(
            serde_json::to_value(s).unwrap(),
            serde_json::json!(s.as_str())
        );
    }
    for c in Channel::ALL {
        assert_eq!(Channel::parse(c.as_str()), Some(c));
    }
}
