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

diesel::allow_tables_to_appear_in_same_query!(app_meta, api_keys, treatments, faqs, screenings);
