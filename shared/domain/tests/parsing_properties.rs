//! Property tests of configuration parsing: schedules from any JSON value, base URLs, API keys,
//! rate limits, regions and ids from any text. None may panic; every refusal names its field
//! and every acceptance holds only good values.

use chrono::{TimeZone, Utc};
use docsync_domain::{
    mask, ApiKey, BaseUrl, ItGlueRegion, RateLimit, Schedule, ScheduleMode, TenantId,
};
use proptest::prelude::*;
use serde_json::{Map, Number, Value};

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 256,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Any JSON value, a few levels deep, with numbers of every kind.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| Number::from_f64(f).map_or(Value::Null, Value::Number)),
        any::<String>().prop_map(Value::String),
        "[a-zA-Z/_:+0-9 -]{0,24}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(".{0,12}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// Schedules that look like real ones (right keys, plausible and implausible values).
fn plausible_schedule() -> impl Strategy<Value = Value> {
    let mode = prop_oneof![
        Just(Value::from("nightly")),
        Just(Value::from("hourly")),
        Just(Value::from("manual")),
        Just(Value::from("Nightly")),
        Just(Value::from("weekly")),
        any_json(),
    ];
    let at = prop_oneof![
        (0u32..30, 0u32..70).prop_map(|(h, m)| Value::from(format!("{h:02}:{m:02}"))),
        "[0-9:+ -]{0,6}".prop_map(Value::from),
        "[0-9+ -]{2}:[0-9+ -]{2}".prop_map(Value::from),
        any_json(),
    ];
    let zone = prop_oneof![
        Just(Value::from("Australia/Sydney")),
        Just(Value::from("UTC")),
        Just(Value::from("Asia/Kolkata")),
        Just(Value::from("America/St_Johns")),
        Just(Value::from("Mars/Olympus_Mons")),
        Just(Value::from("../../etc/passwd")),
        "[A-Za-z_/+-]{0,20}".prop_map(Value::from),
        any_json(),
    ];
    (
        prop::option::of(mode),
        prop::option::of(at),
        prop::option::of(zone),
        prop::option::of(any_json()),
    )
        .prop_map(|(mode, at, zone, extra)| {
            let mut m = Map::new();
            for (k, v) in [
                ("mode", mode),
                ("at", at),
                ("timeZone", zone),
                ("every", extra),
            ] {
                if let Some(v) = v {
                    m.insert(k.to_owned(), v);
                }
            }
            Value::Object(m)
        })
}

fn check_schedule(value: &Value) {
    match Schedule::parse(value) {
        Ok(s) => {
            let obj = value.as_object().expect("only objects are schedules");
            assert!(obj
                .keys()
                .all(|k| matches!(k.as_str(), "mode" | "at" | "timeZone")));
            let (h, m) = s.hour_minute();
            assert!((0..24).contains(&h) && (0..60).contains(&m), "{s:?}");
            assert_eq!(s.at, format!("{h:02}:{m:02}"), "at is HH:MM");
            // What is stored parses back to the same schedule.
            assert_eq!(Schedule::parse(&s.to_json()), Ok(s.clone()));
            // Slot arithmetic never panics; only manual schedules have no next slot.
            let now = Utc
                .with_ymd_and_hms(2026, 10, 4, 1, 30, 0)
                .single()
                .expect("a time");
            let next = s.next_slot_after(now);
            assert_eq!(next.is_none(), s.mode == ScheduleMode::Manual, "{s:?}");
            if let Some(next) = next {
                assert!(
                    next > now && next <= now + chrono::Duration::days(2),
                    "{s:?}"
                );
            }
        }
        Err(errors) => {
            assert!(!errors.is_empty());
            for (field, message) in &errors {
                assert!(field.starts_with("schedule"), "{field}");
                assert!(!message.trim().is_empty(), "{field}");
            }
        }
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn schedules_parse_from_any_json_without_panicking(value in any_json()) {
        check_schedule(&value);
    }

    #[test]
    fn schedules_that_look_real_are_accepted_only_when_every_field_is_good(value in plausible_schedule()) {
        check_schedule(&value);
        let obj = value.as_object().expect("object");
        let good_mode = obj.get("mode").is_none_or(|m| matches!(m.as_str(), Some("nightly" | "hourly" | "manual")));
        let good_at = obj.get("at").and_then(Value::as_str).map_or(!obj.contains_key("at"), |a| {
            a.is_ascii() && a.len() == 5 && a.as_bytes()[2] == b':'
                && a[..2].parse::<u8>().is_ok_and(|h| h < 24)
                && a[3..].parse::<u8>().is_ok_and(|m| m < 60)
                && a.chars().filter(char::is_ascii_digit).count() == 4
        });
        let known_zone = obj.get("timeZone").is_none_or(|z| matches!(z.as_str(), Some("Australia/Sydney" | "UTC" | "Asia/Kolkata" | "America/St_Johns")));
        let bad_zone = obj.get("timeZone").is_some_and(|z| !z.is_string() || matches!(z.as_str(), Some("Mars/Olympus_Mons" | "../../etc/passwd" | "")));
        let extra = obj.contains_key("every");
        let parsed = Schedule::parse(&value);
        if good_mode && good_at && known_zone && !extra {
            prop_assert!(parsed.is_ok(), "{value} refused: {parsed:?}");
        }
        if !good_mode || !good_at || bad_zone || extra {
            prop_assert!(parsed.is_err(), "{value} accepted: {parsed:?}");
        }
    }

    #[test]
    fn base_urls_from_any_text(raw in any::<String>(), allow in any::<bool>()) {
        check_base_url(&raw, allow);
    }

    #[test]
    fn base_urls_that_look_real(
        scheme in prop_oneof![Just("https"), Just("http"), Just("ftp"), Just("HTTPS"), Just("")],
        userinfo in prop_oneof![Just(""), Just("user@"), Just("user:pw@")],
        host in prop_oneof![Just("it.msp.com".to_owned()), Just("127.0.0.1".to_owned()), Just("[::1]".to_owned()), "[a-z0-9.-]{0,20}"],
        port in prop_oneof![Just(String::new()), (0u32..70000).prop_map(|p| format!(":{p}"))],
        path in prop_oneof![Just(""), Just("/"), Just("/api/v1"), Just("/API/V1/"), Just("/api"), Just("/hudu/api/v1//"), Just("/a b")],
        tail in prop_oneof![Just(""), Just("?x=1"), Just("#top")],
        allow in any::<bool>(),
    ) {
        let raw = format!("{scheme}://{userinfo}{host}{port}{path}{tail}");
        check_base_url(&raw, allow);
        let parsed = BaseUrl::parse("baseUrl", &raw, allow);
        if !userinfo.is_empty() || !tail.is_empty() {
            prop_assert!(parsed.is_err(), "{raw} accepted");
        }
        if let Ok(p) = parsed {
            if path.to_ascii_lowercase().trim_end_matches('/').ends_with("/api/v1") {
                prop_assert!(p.notice.is_some(), "{raw}: the stripped /api/v1 is reported");
            }
        }
    }

    #[test]
    fn api_keys_from_any_text(raw in any::<String>()) {
        check_api_key(&raw);
    }

    #[test]
    fn api_keys_that_look_real(
        lead in "[ \t\n]{0,2}",
        key in "[A-Za-z0-9_.-]{0,40}",
        inner in prop_oneof![Just(""), Just(" "), Just("\u{0}"), Just("\t")],
        more in "[A-Za-z0-9]{0,8}",
        trail in "[ \t\n]{0,2}",
        long in any::<bool>(),
    ) {
        let body = if long { key.repeat(20) } else { key.clone() };
        let raw = format!("{lead}{body}{inner}{more}{trail}");
        check_api_key(&raw);
        let parsed = ApiKey::parse("apiKey", &raw);
        let core = format!("{body}{inner}{more}");
        let kept = core.trim();
        let good = !kept.is_empty() && (inner.is_empty() || !kept.contains(inner)) && kept.len() <= 512;
        prop_assert_eq!(parsed.is_ok(), good, "{:?}", raw);
    }

    #[test]
    fn masking_never_shows_more_than_the_last_four_characters(secret in any::<String>()) {
        let shown = mask(&secret);
        prop_assert!(shown.starts_with("••••"));
        let tail = shown.trim_start_matches("••••");
        prop_assert!(tail.chars().count() <= 4);
        prop_assert!(secret.ends_with(tail));
        if secret.chars().count() < 12 {
            prop_assert_eq!(tail, "");
        }
    }

    #[test]
    fn rate_limits_from_any_json(value in any_json()) {
        check_rate_limit(&value);
    }

    #[test]
    fn rate_limits_that_look_real(
        requests in prop_oneof![Just(Value::from(0)), Just(Value::from(-1)), Just(Value::from(1.5)), Just(Value::from("10")), any::<u32>().prop_map(Value::from), any::<u64>().prop_map(Value::from), (1u32..2_000_000).prop_map(Value::from)],
        per_seconds in prop_oneof![Just(Value::from(0)), Just(Value::Null), any::<u32>().prop_map(Value::from), (1u32..100_000).prop_map(Value::from)],
        extra in prop::option::of(any_json()),
    ) {
        let mut m = Map::new();
        m.insert("requests".into(), requests.clone());
        m.insert("perSeconds".into(), per_seconds.clone());
        if let Some(e) = extra.clone() {
            m.insert("burst".into(), e);
        }
        let value = Value::Object(m);
        check_rate_limit(&value);
        let valid = extra.is_none()
            && requests.as_u64().is_some_and(|r| (1..=u64::from(RateLimit::MAX_REQUESTS)).contains(&r))
            && per_seconds.as_u64().is_some_and(|s| (1..=u64::from(RateLimit::MAX_PER_SECONDS)).contains(&s));
        let accepted = serde_json::from_value::<RateLimit>(value.clone()).is_ok_and(|r| r.validate().is_ok());
        prop_assert_eq!(accepted, valid, "{}", value);
    }

    #[test]
    fn regions_and_ids_from_any_text(raw in any::<String>()) {
        match raw.parse::<ItGlueRegion>() {
            Ok(r) => prop_assert_eq!(r.as_str(), raw.trim().to_ascii_lowercase()),
            Err(e) => prop_assert!(e.contains("\"us\", \"eu\" or \"au\"")),
        }
        match raw.parse::<TenantId>() {
            Ok(id) => prop_assert_eq!(id.to_string(), uuid::Uuid::parse_str(raw.trim()).expect("uuid").to_string()),
            Err(e) => prop_assert!(e.starts_with("tenant id must be a UUID"), "{}", e),
        }
    }
}

fn check_base_url(raw: &str, allow: bool) {
    match BaseUrl::parse("baseUrl", raw, allow) {
        Ok(p) => {
            let url = p.url.as_str();
            let lower = url.to_ascii_lowercase();
            assert!(
                lower.starts_with("https://") || (allow && lower.starts_with("http://")),
                "{raw:?} → {url}"
            );
            assert!(!url.ends_with('/'), "{raw:?} → {url}");
            assert!(!p.url.host().is_empty(), "{raw:?} → {url}: no host");
            // What is stored is accepted again.
            assert!(
                BaseUrl::parse("baseUrl", url, allow).is_ok(),
                "{raw:?} → {url} is refused when read back"
            );
        }
        Err(e) => assert!(e.starts_with("baseUrl "), "{e}"),
    }
}

fn check_api_key(raw: &str) {
    match ApiKey::parse("apiKey", raw) {
        Ok(k) => {
            let key = k.expose();
            assert_eq!(key, raw.trim());
            assert!(!key.is_empty() && key.len() <= 512);
            assert!(!key.chars().any(|c| c.is_whitespace() || c.is_control()));
            let shown = format!("{k:?} {}", k.masked());
            if key.chars().count() >= 12 {
                let hidden: String = key.chars().take(key.chars().count() - 4).collect();
                assert!(!shown.contains(&hidden), "{shown}");
            } else {
                assert_eq!(k.masked(), "••••");
            }
        }
        Err(e) => assert!(e.starts_with("apiKey "), "{e}"),
    }
}

fn check_rate_limit(value: &Value) {
    match serde_json::from_value::<RateLimit>(value.clone()) {
        Ok(r) => match r.validate() {
            Ok(()) => {
                assert!(r.requests >= 1 && r.per_seconds >= 1);
                let interval = r.interval();
                assert!(interval.as_secs_f64() > 0.0 && interval.as_secs() <= 86_400);
            }
            Err(e) => assert!(
                e.starts_with("rateLimit.requests ") || e.starts_with("rateLimit.perSeconds "),
                "{e}"
            ),
        },
        Err(e) => assert!(!e.to_string().is_empty()),
    }
}

/// Found by the properties above: `+0:00` parsed as 00:00 (integers may carry a sign) and was
/// stored as written.
#[test]
fn a_time_with_a_sign_or_a_space_is_not_hh_mm() {
    for at in ["+0:00", "+1:30", "-0:00", " 1:00", "01:+5", "1:000"] {
        let parsed = Schedule::parse(&serde_json::json!({"at": at}));
        assert!(parsed.is_err(), "{at} accepted: {parsed:?}");
    }
}
