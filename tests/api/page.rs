//! The booking page as the binary serves it, `GET /v1/clinic`, and the
//! headers every answer carries (security policy, compression).

use reqwest::Method;
use serde_json::json;

use crate::helpers::{spawn_app, spawn_app_with};

fn web(name: &str) -> String {
    std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("web")
            .join(name),
    )
    .unwrap()
}

#[tokio::test]
async fn the_page_is_served_with_its_own_policy() {
    let app = spawn_app_with(|s| {
        s.page.frame_ancestors = "https://clinic.example".into();
        s.page.logo_url = Some("https://cdn.clinic.example/logo.svg".into());
    })
    .await;
    for (path, file) in [
        ("/", "index.html"),
        ("/embed", "index.html"),
        ("/manage", "manage.html"),
        // Stripe's redirect after a payment appends its query string.
        (
            "/manage?payment_intent=pi_1&redirect_status=succeeded",
            "manage.html",
        ),
    ] {
        let page = app.get(path, None).await;
        assert_eq!(page.status, 200, "{path}");
        assert_eq!(page.text, web(file), "{path}");
        assert_eq!(
            page.header("content-type"),
            Some("text/html; charset=utf-8")
        );
        let policies: Vec<_> = page
            .headers
            .get_all("content-security-policy")
            .iter()
            .collect();
        assert_eq!(
            policies.len(),
            1,
            "{path}: one policy, not the API's as well"
        );
        let csp = policies[0].to_str().unwrap();
        for part in [
            "default-src 'self'",
            "script-src 'self' https://js.stripe.com",
            "frame-src https://js.stripe.com https://hooks.stripe.com",
            "connect-src 'self' https://api.stripe.com",
            "img-src 'self' data: https://cdn.clinic.example;",
            "style-src 'self'",
            "form-action 'self'",
            "base-uri 'none'",
        ] {
            assert!(csp.contains(part), "{path}: {part} missing from {csp}");
        }
        assert_eq!(page.header("referrer-policy"), Some("no-referrer"));
        assert_eq!(page.header("cache-control"), Some("no-cache"));
        if path == "/embed" {
            assert!(
                csp.ends_with("frame-ancestors https://clinic.example"),
                "{csp}"
            );
            assert_eq!(page.header("x-frame-options"), None, "/embed can be framed");
        } else {
            assert!(csp.ends_with("frame-ancestors 'none'"), "{csp}");
            assert_eq!(page.header("x-frame-options"), Some("DENY"));
        }
    }
    // HEAD answers like GET, without a body.
    let head = app.request(Method::HEAD, "/", None, None).await;
    assert_eq!(head.status, 200);
    assert!(head.text.is_empty());
    // Other methods: 405 with Allow, as a problem.
    let post = app.request(Method::POST, "/", None, None).await;
    post.assert_problem(405, "method_not_allowed");
    assert_eq!(post.header("allow"), Some("GET, HEAD"));
}

#[tokio::test]
async fn assets_are_served_by_name_with_etags() {
    let app = spawn_app().await;
    for (name, content_type) in [
        ("api.js", "text/javascript; charset=utf-8"),
        ("styles.css", "text/css; charset=utf-8"),
        ("favicon.svg", "image/svg+xml"),
    ] {
        let asset = app.get(&format!("/assets/{name}"), None).await;
        assert_eq!(asset.status, 200, "{name}");
        assert_eq!(asset.text, web(name), "{name}");
        assert_eq!(asset.header("content-type"), Some(content_type));
        assert_eq!(asset.header("cache-control"), Some("no-cache"));
        let etag = asset.header("etag").unwrap().to_owned();
        let again = app
            .send(
                app.client
                    .get(app.url(&format!("/assets/{name}")))
                    .header("if-none-match", &etag),
            )
            .await;
        assert_eq!(again.status, 304, "{name}");
        assert_eq!(again.header("etag"), Some(etag.as_str()));
    }
    for missing in [
        "/assets/no-such-file.js",
        "/assets/index.html",
        "/assets/..%2FCargo.toml",
        "/assets/",
    ] {
        app.get(missing, None)
            .await
            .assert_problem(404, "not_found");
    }
}

#[tokio::test]
async fn api_answers_keep_the_api_policy_and_swagger_ui_redirects() {
    let app = spawn_app().await;
    let api = app.get("/v1/treatments", None).await;
    assert_eq!(
        api.header("content-security-policy"),
        Some("default-src 'none'; frame-ancestors 'none'")
    );
    assert_eq!(api.header("x-frame-options"), Some("DENY"));
    let problem = app.get("/v1/nothing", None).await;
    assert_eq!(problem.header("x-frame-options"), Some("DENY"));
    assert!(problem.header("content-security-policy").is_some());

    let bare = app.get("/swagger-ui", None).await;
    assert_eq!(bare.status, 308);
    assert_eq!(bare.header("location"), Some("/swagger-ui/"));
    let ui = app.get("/swagger-ui/", None).await;
    assert_eq!(ui.status, 200);
    assert_eq!(ui.header("x-frame-options"), Some("DENY"));
}

#[tokio::test]
async fn the_clinic_settings_are_public_and_cacheable() {
    let app = spawn_app_with(|s| {
        s.clinic_name = "Symmetry Studio".into();
        s.clinic_contact.phone = Some("+44 20 7946 0000".into());
        s.page.primary_colour = Some("#1a5276".into());
        s.page.manual_deposit_instructions = "Call us to pay.".into();
    })
    .await;
    let clinic = app.get("/v1/clinic", None).await;
    assert_eq!(clinic.status, 200, "{}", clinic.text);
    assert_eq!(
        clinic.body,
        json!({
            "name": "Symmetry Studio",
            "address": null,
            "phone": "+44 20 7946 0000",
            "email": null,
            "timezone": "Europe/London",
            "minimum_age": 18,
            "deposit": {"amount": 2500, "currency": "GBP"},
            "cancellation_notice_hours": 48,
            "hold_minutes": 15,
            "consultation_minutes": 30,
            "payment": {"provider": "manual", "stripe_publishable_key": null, "manual_instructions": "Call us to pay."},
            "branding": {"primary_colour": "#1a5276", "accent_colour": null, "logo_url": null},
        })
    );
    let etag = clinic.header("etag").unwrap().to_owned();
    let again = app
        .send(
            app.client
                .get(app.url("/v1/clinic"))
                .header("if-none-match", &etag),
        )
        .await;
    assert_eq!(again.status, 304);
}

#[tokio::test]
async fn with_stripe_the_clinic_settings_give_the_publishable_key() {
    let app = spawn_app_with(|s| {
        s.stripe = Some(clinic_api::config::StripeSettings {
            secret_key: "sk_test_page".into(),
            publishable_key: Some("pk_test_page".into()),
            webhook_secret: "whsec_page".into(),
            api_base: Some("http://127.0.0.1:9".into()),
            timeout: std::time::Duration::from_secs(1),
        });
    })
    .await;
    let clinic = app.get("/v1/clinic", None).await;
    assert_eq!(
        clinic.body["payment"],
        json!({"provider": "stripe", "stripe_publishable_key": "pk_test_page", "manual_instructions": null})
    );
}

#[tokio::test]
async fn answers_are_compressed_when_the_client_asks() {
    let app = spawn_app().await;
    let plain = app.get("/v1/faqs?limit=100", None).await;
    assert_eq!(plain.header("content-encoding"), None);
    for (asked, magic) in [("gzip", &[0x1f_u8, 0x8b][..]), ("br", &[][..])] {
        let resp = app
            .client
            .get(app.url("/v1/faqs?limit=100"))
            .header("accept-encoding", asked)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(
            resp.headers()
                .get("content-encoding")
                .and_then(|v| v.to_str().ok()),
            Some(asked)
        );
        let body = resp.bytes().await.unwrap();
        assert!(body.starts_with(magic), "{asked}");
        assert!(
            body.len() * 2 < plain.text.len(),
            "{asked}: {} bytes of {}",
            body.len(),
            plain.text.len()
        );
    }
    // The page too.
    let page = app
        .client
        .get(app.url("/assets/booking.js"))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(page.headers().get("content-encoding").unwrap(), "gzip");
}
