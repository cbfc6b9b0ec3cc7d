//! Table definitions shared by both backends. Kept by hand in step with
//! `migrations/sqlite` and `migrations/postgres`, which mirror each other.

diesel::table! {
    app_meta (key) {
        key -> Text,
        value -> Text,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    api_keys (id) {
        id -> Text,
        name -> Text,
        role -> Text,
        prefix -> Text,
        key_hash -> Text,
        created_at -> Timestamp,
        revoked_at -> Nullable<Timestamp>,
        last_used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    treatments (id) {
        id -> Text,
        slug -> Text,
        name -> Text,
        summary -> Text,
        description -> Text,
        injectables -> Text,
        session_min_minutes -> Integer,
        session_max_minutes -> Integer,
        effect_durations -> Text,
        results_onset -> Text,
        anaesthetic -> Text,
        side_effects -> Text,
        contraindications -> Text,
        from_price_amount -> Nullable<BigInt>,
        from_price_currency -> Nullable<Text>,
        display_order -> Integer,
        active -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    faqs (id) {
        id -> Text,
        question -> Text,
        answer -> Text,
        topic -> Text,
        treatment_id -> Nullable<Text>,
        position -> Integer,
        published -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::joinable!(faqs -> treatments (treatment_id));

diesel::table! {
    screenings (id) {
        id -> Text,
        outcome -> Text,
        reason_codes -> Text,
        date_of_birth -> Nullable<Date>,
        judged_on -> Date,
        age -> Nullable<Integer>,
        token_hash -> Nullable<Text>,
        expires_at -> Nullable<Timestamp>,
        consultation_id -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    practitioners (id) {
        id -> Text,
        name -> Text,
        title -> Text,
        active -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    opening_hours (id) {
        id -> Text,
        practitioner_id -> Text,
        weekday -> Integer,
        opens_minute -> Integer,
        closes_minute -> Integer,
    }
}

diesel::table! {
    closures (id) {
        id -> Text,
        practitioner_id -> Nullable<Text>,
        starts_at -> Timestamp,
        ends_at -> Timestamp,
        reason -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    clients (id) {
        id -> Text,
        full_name -> Text,
        email -> Text,
        email_normalized -> Text,
        phone -> Text,
        date_of_birth -> Nullable<Date>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        erased_at -> Nullable<Timestamp>,
        identity_key -> Nullable<Text>,
    }
}

diesel::table! {
    consultations (id) {
        id -> Text,
        client_id -> Text,
        client_full_name -> Text,
        client_email -> Text,
        client_phone -> Text,
        practitioner_id -> Text,
        treatment_id -> Nullable<Text>,
        starts_at -> Timestamp,
        ends_at -> Timestamp,
        status -> Text,
        hold_expires_at -> Nullable<Timestamp>,
        notes -> Nullable<Text>,
        needs_review -> Bool,
        manage_token_hash -> Text,
        channel -> Text,
        booked_by_key_id -> Nullable<Text>,
        policy_accepted_at -> Timestamp,
        cancelled_by -> Nullable<Text>,
        end_reason -> Nullable<Text>,
        sequence -> Integer,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        personal_data_removed_at -> Nullable<Timestamp>,
        client_email_key -> Text,
        client_phone_key -> Text,
        source_key -> Text,
        cancellation_reason -> Nullable<Text>,
        notify_email -> Bool,
        notify_sms -> Bool,
    }
}

diesel::table! {
    slot_claims (practitioner_id, cell_start) {
        practitioner_id -> Text,
        cell_start -> Timestamp,
        consultation_id -> Text,
    }
}

diesel::table! {
    deposits (id) {
        id -> Text,
        consultation_id -> Text,
        amount -> BigInt,
        currency -> Text,
        status -> Text,
        provider -> Text,
        provider_payment_id -> Nullable<Text>,
        client_secret -> Nullable<Text>,
        payment_reference -> Nullable<Text>,
        paid_at -> Nullable<Timestamp>,
        settled_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    idempotency_keys (scope, idempotency_key) {
        scope -> Text,
        idempotency_key -> Text,
        request_hash -> Text,
        state -> Text,
        resource_id -> Nullable<Text>,
        response_status -> Nullable<Integer>,
        response_body -> Nullable<Text>,
        response_location -> Nullable<Text>,
        locked_at -> Timestamp,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        subject_id -> Nullable<Text>,
    }
}

diesel::table! {
    redemptions (id) {
        id -> Text,
        deposit_id -> Text,
        treatment_id -> Text,
        amount -> BigInt,
        currency -> Text,
        note -> Nullable<Text>,
        recorded_by -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    refunds (id) {
        id -> Text,
        deposit_id -> Text,
        amount -> BigInt,
        currency -> Text,
        provider -> Text,
        provider_refund_id -> Nullable<Text>,
        reason -> Text,
        recorded_by -> Text,
        status -> Text,
        created_at -> Timestamp,
        completed_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    processed_events (event_id) {
        event_id -> Text,
        event_type -> Text,
        processed_at -> Timestamp,
    }
}

diesel::table! {
    audit_events (id) {
        id -> Text,
        occurred_at -> Timestamp,
        actor -> Text,
        action -> Text,
        subject_type -> Text,
        subject_id -> Text,
        before_state -> Nullable<Text>,
        after_state -> Nullable<Text>,
    }
}

diesel::table! {
    outbox_events (id) {
        id -> Text,
        event_type -> Text,
        occurred_at -> Timestamp,
        consultation_id -> Text,
        partner_key_id -> Nullable<Text>,
        payload -> Text,
        dispatched -> Bool,
    }
}

diesel::table! {
    webhook_endpoints (id) {
        id -> Text,
        owner_key_id -> Text,
        owner_role -> Text,
        url -> Text,
        event_types -> Text,
        secret -> Text,
        active -> Bool,
        disabled_reason -> Nullable<Text>,
        failing_since -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    webhook_deliveries (id) {
        id -> Text,
        endpoint_id -> Text,
        event_id -> Text,
        event_occurred_at -> Timestamp,
        status -> Text,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        last_attempt_at -> Nullable<Timestamp>,
        last_status_code -> Nullable<Integer>,
        last_error -> Nullable<Text>,
        created_at -> Timestamp,
        delivered_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    rate_limits (bucket, window_start) {
        bucket -> Text,
        window_start -> Timestamp,
        hits -> Integer,
    }
}

diesel::table! {
    notifications (id) {
        id -> Text,
        consultation_id -> Text,
        kind -> Text,
        audience -> Text,
        channel -> Text,
        version -> Integer,
        offset_minutes -> Integer,
        resend_number -> Integer,
        recipient_masked -> Text,
        previous_starts_at -> Nullable<Timestamp>,
        status -> Text,
        status_reason -> Nullable<Text>,
        attempts -> Integer,
        send_after -> Timestamp,
        next_attempt_at -> Timestamp,
        last_attempt_at -> Nullable<Timestamp>,
        last_error -> Nullable<Text>,
        provider_message_id -> Nullable<Text>,
        sent_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    manage_links (token_hash) {
        token_hash -> Text,
        consultation_id -> Text,
        notification_id -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::joinable!(opening_hours -> practitioners (practitioner_id));
diesel::joinable!(consultations -> clients (client_id));
diesel::joinable!(consultations -> practitioners (practitioner_id));
diesel::joinable!(consultations -> treatments (treatment_id));
diesel::joinable!(deposits -> consultations (consultation_id));
diesel::joinable!(webhook_deliveries -> webhook_endpoints (endpoint_id));
diesel::joinable!(webhook_deliveries -> outbox_events (event_id));
diesel::joinable!(notifications -> consultations (consultation_id));

diesel::allow_tables_to_appear_in_same_query!(
    app_meta,
    api_keys,
    treatments,
    faqs,
    screenings,
    practitioners,
    opening_hours,
    closures,
    clients,
    consultations,
    slot_claims,
    deposits,
    idempotency_keys,
    redemptions,
    refunds,
    processed_events,
    audit_events,
    outbox_events,
    webhook_endpoints,
    webhook_deliveries,
    rate_limits,
    notifications,
    manage_links,
);
