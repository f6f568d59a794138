//! Push and sync cadence of an integration: nightly at a local time, hourly at a minute, every
//! N hours (UTC), or manual.
//!
//! `at` is local time in `timeZone` (any IANA zone); the default is nightly at 02:00
//! Australia/Sydney, as the product promises. `hours` is set exactly when the mode is `every`
//! (1 to 24; PSA syncs default to every 3 hours), so the posture modes' JSON has no `hours`.
//! `onChange` (posture pushes only, [false]) also pushes a tenant soon after its directory
//! audit log shows a change to Conditional Access, authentication methods or domains, beside
//! whatever the mode does; it is stored only when true, so older JSON reads back unchanged.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// How often scheduled pushes happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ScheduleMode {
    /// Once a day at `at`.
    Nightly,
    /// Every hour at the minute of `at`.
    Hourly,
    /// Every `hours` hours: at the UTC instants that are multiples of `hours` hours since the
    /// Unix epoch (every 3 hours: 00:00, 03:00, ... UTC). `at` and `timeZone` play no part.
    Every,
    /// Only when asked (push now, push-all).
    Manual,
}

/// A validated schedule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Schedule {
    /// Cadence.
    pub mode: ScheduleMode,
    /// Local time `HH:MM`.
    pub at: String,
    /// IANA time zone, e.g. `Australia/Sydney`.
    pub time_zone: String,
    /// Hours between slots (1 to 24), with mode `every` only; `None` for the other modes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hours: Option<u32>,
    /// Also push after a change to Conditional Access, authentication methods or domains seen
    /// in the tenant's directory audit log (posture pushes only; trigger `change`).
    #[serde(default, skip_serializing_if = "is_false")]
    pub on_change: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

impl Default for Schedule {
    fn default() -> Self {
        Self {
            mode: ScheduleMode::Nightly,
            at: "02:00".into(),
            time_zone: "Australia/Sydney".into(),
            hours: None,
            on_change: false,
        }
    }
}

impl Schedule {
    /// Hours between slots of an `every` schedule when `hours` is not given.
    pub const DEFAULT_EVERY_HOURS: u32 = 3;
    /// The longest period of an `every` schedule: a day.
    pub const MAX_EVERY_HOURS: u32 = 24;

    /// Every `hours` hours (UTC slots). `hours` is clamped to 1..=24: a constructor for
    /// docsync's own constants; user input goes through [`Schedule::parse`], which refuses
    /// values out of range.
    pub fn every_hours(hours: u32) -> Self {
        Self {
            mode: ScheduleMode::Every,
            hours: Some(hours.clamp(1, Self::MAX_EVERY_HOURS)),
            ..Self::default()
        }
    }

    /// The schedule of a PSA sync unless configured: every 3 hours.
    pub fn psa_default() -> Self {
        Self::every_hours(Self::DEFAULT_EVERY_HOURS)
    }

    /// Hours between slots for mode `every` (`hours`, else the default of 3); `None` for the
    /// other modes.
    pub fn period_hours(&self) -> Option<u32> {
        (self.mode == ScheduleMode::Every).then(|| {
            self.hours
                .unwrap_or(Self::DEFAULT_EVERY_HOURS)
                .clamp(1, Self::MAX_EVERY_HOURS)
        })
    }

    /// Parses a `schedule` JSON object, collecting every bad field as `(field, fix)`.
    /// Missing fields take the defaults (nightly at 02:00 Australia/Sydney).
    /// `onChange` (true or false) is accepted here: posture pushes can follow changes.
    pub fn parse(value: &Value) -> Result<Self, Vec<(String, String)>> {
        Self::parse_with(value, &Self::default(), true)
    }

    /// Parses a `schedule` JSON object like [`Schedule::parse`], with missing fields taken from
    /// `default` instead (PSA syncs pass [`Schedule::psa_default`], so `{}` or `{"hours": 6}`
    /// mean "every 3 / 6 hours" there). `hours` (1 to 24, [3]) goes only with mode `every`.
    /// `onChange` is refused here: only posture pushes follow changes.
    pub fn parse_or(value: &Value, default: &Schedule) -> Result<Self, Vec<(String, String)>> {
        Self::parse_with(value, default, false)
    }

    fn parse_with(
        value: &Value,
        default: &Schedule,
        on_change_allowed: bool,
    ) -> Result<Self, Vec<(String, String)>> {
        let mut errors = Vec::new();
        let Some(obj) = value.as_object() else {
            return Err(vec![(
                "schedule".into(),
                "must be an object such as {\"mode\":\"nightly\",\"at\":\"02:00\",\"timeZone\":\"Australia/Sydney\"} or {\"mode\":\"every\",\"hours\":3}".into(),
            )]);
        };
        for key in obj.keys() {
            let known = matches!(key.as_str(), "mode" | "at" | "timeZone" | "hours")
                || (on_change_allowed && key == "onChange");
            if !known {
                let fields = if on_change_allowed {
                    "mode, at, timeZone, onChange and (with mode \"every\") hours"
                } else {
                    "mode, at, timeZone and (with mode \"every\") hours"
                };
                errors.push((
                    format!("schedule.{key}"),
                    format!("unknown field: use {fields}"),
                ));
            }
        }
        let mut schedule = default.clone();
        if on_change_allowed {
            // `onChange: null` is "not given", as everywhere in the API's bodies.
            match obj.get("onChange").filter(|v| !v.is_null()) {
                None => {}
                Some(Value::Bool(b)) => schedule.on_change = *b,
                Some(other) => errors.push((
                    "schedule.onChange".into(),
                    format!("must be true (also push soon after a Conditional Access, authentication methods or domain change in the tenant) or false, got {other}"),
                )),
            }
        }
        let mut mode_known = true;
        match obj.get("mode") {
            None => {}
            Some(Value::String(m)) if m == "nightly" => schedule.mode = ScheduleMode::Nightly,
            Some(Value::String(m)) if m == "hourly" => schedule.mode = ScheduleMode::Hourly,
            Some(Value::String(m)) if m == "every" => schedule.mode = ScheduleMode::Every,
            Some(Value::String(m)) if m == "manual" => schedule.mode = ScheduleMode::Manual,
            Some(other) => {
                mode_known = false;
                errors.push((
                    "schedule.mode".into(),
                    format!(
                        "must be \"nightly\", \"hourly\", \"every\" or \"manual\", got {other}"
                    ),
                ));
            }
        }
        // `hours: null` is "not given", as everywhere in the API's bodies.
        schedule.hours = match (schedule.mode, obj.get("hours").filter(|v| !v.is_null())) {
            (ScheduleMode::Every, None) => Some(default.hours.unwrap_or(Self::DEFAULT_EVERY_HOURS)),
            (ScheduleMode::Every, Some(v)) => match v.as_u64() {
                Some(n) if (1..=u64::from(Self::MAX_EVERY_HOURS)).contains(&n) => {
                    u32::try_from(n).ok()
                }
                _ => {
                    errors.push((
                        "schedule.hours".into(),
                        format!(
                            "must be a whole number of hours from 1 to {}, such as 3, got {v}",
                            Self::MAX_EVERY_HOURS
                        ),
                    ));
                    None
                }
            },
            (_, Some(_)) if mode_known => {
                errors.push((
                    "schedule.hours".into(),
                    "goes only with \"mode\": \"every\": remove hours or set mode to \"every\""
                        .into(),
                ));
                None
            }
            (_, _) => None,
        };
        match obj.get("at") {
            None => {}
            Some(Value::String(at)) if parse_hh_mm(at).is_some() => schedule.at = at.clone(),
            Some(other) => errors.push((
                "schedule.at".into(),
                format!("must be a 24-hour local time \"HH:MM\" such as \"02:00\", got {other}"),
            )),
        }
        match obj.get("timeZone") {
            None => {}
            Some(Value::String(tz)) if jiff::tz::TimeZone::get(tz).is_ok() => {
                schedule.time_zone = tz.clone()
            }
            Some(other) => errors.push((
                "schedule.timeZone".into(),
                format!("must be an IANA time zone such as \"Australia/Sydney\" or \"UTC\", got {other}"),
            )),
        }
        if errors.is_empty() {
            Ok(schedule)
        } else {
            Err(errors)
        }
    }

    /// `(hour, minute)` of `at`.
    pub fn hour_minute(&self) -> (i8, i8) {
        parse_hh_mm(&self.at).unwrap_or((2, 0))
    }

    /// As JSON for storage and views.
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

/// Slot arithmetic: when scheduled pushes fall due.
///
/// Nightly slots are the local time `at` of each day in `timeZone`. On a night the zone skips
/// that time (spring forward) the slot is the first valid instant after the gap; on a night
/// that repeats it (fall back) the slot is the first occurrence only. Hourly slots are every
/// real hour at local minute `at`'s minute, so repeated and skipped hours get exactly one slot
/// per hour of elapsed time. `every` slots are the UTC multiples of `hours` hours since the Unix
/// epoch, whatever `timeZone` says. Manual schedules have no slots.
impl Schedule {
    /// The latest slot at or before `now`.
    pub fn slot_at_or_before(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let now_ts = to_jiff(now)?;
        self.candidates(now_ts)?
            .into_iter()
            .filter(|t| *t <= now_ts)
            .max()
            .and_then(from_jiff)
    }

    /// The first slot strictly after `now`.
    pub fn next_slot_after(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let now_ts = to_jiff(now)?;
        self.candidates(now_ts)?
            .into_iter()
            .filter(|t| *t > now_ts)
            .min()
            .and_then(from_jiff)
    }

    fn candidates(&self, now: jiff::Timestamp) -> Option<Vec<jiff::Timestamp>> {
        let zone = || jiff::tz::TimeZone::get(&self.time_zone).ok();
        let (hour, minute) = self.hour_minute();
        match self.mode {
            ScheduleMode::Manual => None,
            ScheduleMode::Every => {
                let period = i64::from(self.period_hours()?) * 3600;
                let start = now.as_second().div_euclid(period) * period;
                (-1i64..=1)
                    .map(|k| jiff::Timestamp::from_second(start + k * period).ok())
                    .collect()
            }
            ScheduleMode::Nightly => {
                let tz = zone()?;
                let today = now.to_zoned(tz.clone()).date();
                let mut out = Vec::new();
                for days in -2i32..=2 {
                    let date = today.checked_add(jiff::Span::new().days(days)).ok()?;
                    out.extend(local_instant(&tz, date.at(hour, minute, 0, 0)));
                }
                Some(out)
            }
            ScheduleMode::Hourly => {
                let tz = zone()?;
                let hour_start = now.as_second().div_euclid(3600) * 3600;
                let mut out = Vec::new();
                for k in -2i64..=2 {
                    let start = jiff::Timestamp::from_second(hour_start + k * 3600).ok()?;
                    let offset = i64::from(tz.to_offset(start).seconds());
                    let into_hour = (i64::from(minute) * 60 - offset).rem_euclid(3600);
                    out.push(jiff::Timestamp::from_second(start.as_second() + into_hour).ok()?);
                }
                Some(out)
            }
        }
    }
}

/// The instant of a local time: the earlier one in a fold, the end of the gap in a gap.
fn local_instant(tz: &jiff::tz::TimeZone, dt: jiff::civil::DateTime) -> Option<jiff::Timestamp> {
    use jiff::tz::AmbiguousOffset;
    match tz.to_ambiguous_timestamp(dt).offset() {
        AmbiguousOffset::Unambiguous { offset } => offset.to_timestamp(dt).ok(),
        AmbiguousOffset::Fold { before, .. } => before.to_timestamp(dt).ok(),
        AmbiguousOffset::Gap { after, .. } => {
            // Read with the later offset, the time lands just before the transition; the
            // transition itself is the first valid instant after the skipped time.
            let early = after.to_timestamp(dt).ok()?;
            tz.following(early).next().map(|t| t.timestamp())
        }
    }
}

fn to_jiff(t: DateTime<Utc>) -> Option<jiff::Timestamp> {
    jiff::Timestamp::from_second(t.timestamp()).ok()
}

fn from_jiff(t: jiff::Timestamp) -> Option<DateTime<Utc>> {
    DateTime::<Utc>::from_timestamp(t.as_second(), 0)
}

fn parse_hh_mm(s: &str) -> Option<(i8, i8)> {
    let (h, m) = s.split_once(':')?;
    // Two digits each: `+1:00` or ` 1:00` would parse as numbers but is no HH:MM.
    let digits = |p: &str| p.len() == 2 && p.bytes().all(|b| b.is_ascii_digit());
    if !digits(h) || !digits(m) {
        return None;
    }
    let h: i8 = h.parse().ok()?;
    let m: i8 = m.parse().ok()?;
    ((0..24).contains(&h) && (0..60).contains(&m)).then_some((h, m))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn defaults_fill_missing_fields() {
        let s = Schedule::parse(&json!({"mode": "hourly"})).unwrap();
        assert_eq!(s.mode, ScheduleMode::Hourly);
        assert_eq!(s.time_zone, "Australia/Sydney");
    }

    #[test]
    fn every_bad_field_is_named() {
        let errs = Schedule::parse(
            &json!({"mode": "weekly", "at": "25:00", "timeZone": "Mars/Base", "x": 1}),
        )
        .unwrap_err();
        let fields: Vec<&str> = errs.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(
            fields,
            [
                "schedule.x",
                "schedule.mode",
                "schedule.at",
                "schedule.timeZone"
            ]
        );
    }

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn nightly(at_: &str, tz: &str) -> Schedule {
        Schedule {
            mode: ScheduleMode::Nightly,
            at: at_.into(),
            time_zone: tz.into(),
            hours: None,
            on_change: false,
        }
    }

    #[test]
    fn nightly_at_two_in_sydney_is_1600_utc_in_winter_and_1500_in_summer() {
        let s = nightly("02:00", "Australia/Sydney");
        // July (AEST, +10): 02:00 local = 16:00 UTC the day before.
        assert_eq!(
            s.slot_at_or_before(at("2026-07-15T20:00:00Z")),
            Some(at("2026-07-15T16:00:00Z"))
        );
        assert_eq!(
            s.next_slot_after(at("2026-07-15T16:00:00Z")),
            Some(at("2026-07-16T16:00:00Z"))
        );
        // January (AEDT, +11): 02:00 local = 15:00 UTC.
        assert_eq!(
            s.slot_at_or_before(at("2026-01-10T15:00:00Z")),
            Some(at("2026-01-10T15:00:00Z"))
        );
    }

    #[test]
    fn the_night_sydney_skips_two_oclock_gets_one_slot_at_three() {
        // 2026-10-04: clocks go from 02:00 AEST straight to 03:00 AEDT (16:00 UTC on the 3rd).
        let s = nightly("02:00", "Australia/Sydney");
        let slot = s.next_slot_after(at("2026-10-03T12:00:00Z")).unwrap();
        assert_eq!(
            slot,
            at("2026-10-03T16:00:00Z"),
            "the first valid instant after the gap"
        );
        let next = s.next_slot_after(slot).unwrap();
        assert_eq!(
            next,
            at("2026-10-04T15:00:00Z"),
            "then 02:00 AEDT the next night"
        );
        // Inside the gap night, 02:30 also lands on the gap's end, once.
        let s = nightly("02:30", "Australia/Sydney");
        assert_eq!(
            s.next_slot_after(at("2026-10-03T12:00:00Z")),
            Some(at("2026-10-03T16:00:00Z"))
        );
    }

    #[test]
    fn the_night_sydney_repeats_two_oclock_gets_one_slot() {
        // 2026-04-05: 03:00 AEDT falls back to 02:00 AEST; 02:30 happens twice.
        let s = nightly("02:30", "Australia/Sydney");
        let first = s.next_slot_after(at("2026-04-04T12:00:00Z")).unwrap();
        assert_eq!(first, at("2026-04-04T15:30:00Z"), "the first 02:30 (AEDT)");
        let next = s.next_slot_after(first).unwrap();
        assert_eq!(
            next,
            at("2026-04-05T16:30:00Z"),
            "no slot at the second 02:30; next is tomorrow"
        );
    }

    #[test]
    fn hourly_gives_one_slot_per_real_hour_across_both_transitions() {
        let s = Schedule {
            mode: ScheduleMode::Hourly,
            at: "00:15".into(),
            time_zone: "Australia/Sydney".into(),
            hours: None,
            on_change: false,
        };
        for start in ["2026-10-03T12:00:00Z", "2026-04-04T12:00:00Z"] {
            let mut t = at(start);
            let mut slots = Vec::new();
            for _ in 0..8 {
                t = s.next_slot_after(t).unwrap();
                slots.push(t);
            }
            for pair in slots.windows(2) {
                assert_eq!(pair[1] - pair[0], chrono::Duration::hours(1), "{slots:?}");
            }
            assert!(slots.iter().all(|t| t.format("%M").to_string() == "15"));
        }
    }

    #[test]
    fn hourly_in_a_half_hour_zone_follows_local_minutes() {
        let s = Schedule {
            mode: ScheduleMode::Hourly,
            at: "00:00".into(),
            time_zone: "Asia/Kolkata".into(),
            hours: None,
            on_change: false,
        };
        assert_eq!(
            s.next_slot_after(at("2026-03-01T10:00:00Z")),
            Some(at("2026-03-01T10:30:00Z"))
        );
    }

    #[test]
    fn a_zone_without_dst_keeps_a_fixed_time_all_year() {
        let s = nightly("02:00", "Australia/Brisbane");
        for day in ["2026-01-10", "2026-04-05", "2026-07-15", "2026-10-04"] {
            let slot = s.next_slot_after(at(&format!("{day}T00:00:00Z"))).unwrap();
            assert_eq!(slot.format("%H:%M").to_string(), "16:00");
        }
        let utc = nightly("02:00", "UTC");
        assert_eq!(
            utc.slot_at_or_before(at("2026-10-04T01:59:00Z")),
            Some(at("2026-10-03T02:00:00Z"))
        );
    }

    #[test]
    fn on_change_is_a_posture_option_stored_only_when_true() {
        let s = Schedule::parse(&json!({"mode": "manual", "onChange": true})).unwrap();
        assert!(s.on_change);
        assert_eq!(s.mode, ScheduleMode::Manual);
        assert_eq!(s.to_json()["onChange"], json!(true));
        assert_eq!(Schedule::parse(&s.to_json()), Ok(s.clone()));
        let off = Schedule::parse(&json!({"onChange": false})).unwrap();
        assert!(!off.on_change);
        assert!(off.to_json().get("onChange").is_none());
        assert!(
            !Schedule::parse(&json!({"onChange": null}))
                .unwrap()
                .on_change
        );
        for bad in [json!("yes"), json!(1), json!([true])] {
            let errs = Schedule::parse(&json!({"onChange": bad})).unwrap_err();
            assert_eq!(errs.len(), 1, "{errs:?}");
            assert_eq!(errs[0].0, "schedule.onChange");
        }
        // PSA syncs do not follow the audit log.
        let errs =
            Schedule::parse_or(&json!({"onChange": true}), &Schedule::psa_default()).unwrap_err();
        assert_eq!(errs[0].0, "schedule.onChange");
    }

    #[test]
    fn manual_has_no_slots() {
        let s = Schedule {
            mode: ScheduleMode::Manual,
            ..Schedule::default()
        };
        assert_eq!(s.slot_at_or_before(at("2026-10-04T01:59:00Z")), None);
        assert_eq!(s.next_slot_after(at("2026-10-04T01:59:00Z")), None);
    }

    #[test]
    fn every_parses_with_hours_and_defaults_to_three() {
        let s = Schedule::parse(&json!({"mode": "every", "hours": 6})).unwrap();
        assert_eq!(s, Schedule::every_hours(6));
        assert_eq!(s.period_hours(), Some(6));
        let s = Schedule::parse(&json!({"mode": "every"})).unwrap();
        assert_eq!(s.hours, Some(3));
        assert_eq!(s, Schedule::psa_default());
        // What is stored parses back to the same schedule.
        assert_eq!(Schedule::parse(&s.to_json()), Ok(s.clone()));
        assert_eq!(s.to_json()["hours"], json!(3));
    }

    #[test]
    fn posture_modes_serialize_without_hours() {
        for mode in ["nightly", "hourly", "manual"] {
            let s = Schedule::parse(&json!({ "mode": mode })).unwrap();
            assert_eq!(s.hours, None);
            assert_eq!(
                s.to_json(),
                json!({"mode": mode, "at": "02:00", "timeZone": "Australia/Sydney"})
            );
        }
        assert_eq!(
            serde_json::to_string(&Schedule::default()).unwrap(),
            r#"{"mode":"nightly","at":"02:00","timeZone":"Australia/Sydney"}"#
        );
        // Stored posture schedules (written before `every` existed) still read back.
        let old: Schedule =
            serde_json::from_str(r#"{"mode":"hourly","at":"00:15","timeZone":"UTC"}"#).unwrap();
        assert_eq!(old.hours, None);
    }

    #[test]
    fn bad_hours_are_named() {
        for bad in [
            json!(0),
            json!(25),
            json!(-3),
            json!(2.5),
            json!("3"),
            json!([3]),
        ] {
            let errs = Schedule::parse(&json!({"mode": "every", "hours": bad})).unwrap_err();
            assert_eq!(errs.len(), 1, "{bad}: {errs:?}");
            assert_eq!(errs[0].0, "schedule.hours");
            assert!(errs[0].1.contains("1 to 24"), "{}", errs[0].1);
        }
        for mode in ["nightly", "hourly", "manual"] {
            let errs = Schedule::parse(&json!({"mode": mode, "hours": 3})).unwrap_err();
            assert_eq!(errs.len(), 1);
            assert_eq!(errs[0].0, "schedule.hours");
            assert!(errs[0].1.contains("\"every\""), "{}", errs[0].1);
        }
        let s = Schedule::parse(&json!({"mode": "every", "hours": null})).unwrap();
        assert_eq!(s.hours, Some(3));
        let s = Schedule::parse(&json!({"mode": "nightly", "hours": null})).unwrap();
        assert_eq!(s.hours, None);
        // Posture default is nightly: hours alone is refused there...
        let errs = Schedule::parse(&json!({"hours": 3})).unwrap_err();
        assert_eq!(errs[0].0, "schedule.hours");
        // ...and means "every N hours" where the default is the PSA one.
        let s = Schedule::parse_or(&json!({"hours": 12}), &Schedule::psa_default()).unwrap();
        assert_eq!(s, Schedule::every_hours(12));
        let s = Schedule::parse_or(&json!({}), &Schedule::psa_default()).unwrap();
        assert_eq!(s, Schedule::psa_default());
        let s = Schedule::parse_or(&json!({"mode": "manual"}), &Schedule::psa_default()).unwrap();
        assert_eq!((s.mode, s.hours), (ScheduleMode::Manual, None));
    }

    #[test]
    fn every_slots_are_utc_multiples_of_the_period() {
        let s = Schedule::every_hours(3);
        assert_eq!(
            s.slot_at_or_before(at("2026-07-15T04:59:59Z")),
            Some(at("2026-07-15T03:00:00Z"))
        );
        assert_eq!(
            s.slot_at_or_before(at("2026-07-15T03:00:00Z")),
            Some(at("2026-07-15T03:00:00Z"))
        );
        assert_eq!(
            s.next_slot_after(at("2026-07-15T03:00:00Z")),
            Some(at("2026-07-15T06:00:00Z"))
        );
        assert_eq!(
            s.next_slot_after(at("2026-07-15T22:30:00Z")),
            Some(at("2026-07-16T00:00:00Z"))
        );
        // The time zone plays no part, DST transitions included.
        let sydney = Schedule {
            time_zone: "Australia/Sydney".into(),
            ..Schedule::every_hours(3)
        };
        let mut t = at("2026-10-03T12:00:00Z");
        for _ in 0..8 {
            let next = sydney.next_slot_after(t).unwrap();
            assert_eq!(next.timestamp() % (3 * 3600), 0, "{next}");
            if t.timestamp() % (3 * 3600) == 0 {
                assert_eq!(next - t, chrono::Duration::hours(3));
            }
            t = next;
        }
        // A period that does not divide a day still counts from the epoch.
        let five = Schedule::every_hours(5);
        let next = five.next_slot_after(at("2026-01-01T00:00:00Z")).unwrap();
        assert_eq!(next.timestamp() % (5 * 3600), 0);
        assert!(next - at("2026-01-01T00:00:00Z") <= chrono::Duration::hours(5));
        assert_eq!(
            Schedule::every_hours(24).next_slot_after(at("2026-07-15T10:00:00Z")),
            Some(at("2026-07-16T00:00:00Z"))
        );
    }

    #[test]
    fn every_hours_is_clamped_and_hourless_every_means_three() {
        assert_eq!(Schedule::every_hours(0).hours, Some(1));
        assert_eq!(Schedule::every_hours(100).hours, Some(24));
        let s = Schedule {
            mode: ScheduleMode::Every,
            ..Schedule::default()
        };
        assert_eq!(s.period_hours(), Some(3));
        assert_eq!(Schedule::default().period_hours(), None);
    }
}

/// The OpenAPI description of `schedule` bodies and views. The bodies are parsed by hand
/// ([`Schedule::parse`], [`Schedule::parse_or`]), so these types are only documentation; they
/// say exactly what the parsers accept: `hours` only with mode `every`, `timeZone` one of the
/// zones the bundled time-zone database knows.
mod schema {
    use serde_json::json;
    use std::borrow::Cow;
    use utoipa::openapi::schema::Schema;
    use utoipa::openapi::RefOr;

    /// Reads a schema written as JSON (a bug if it does not parse: the unit tests build it).
    fn from_json(value: serde_json::Value) -> RefOr<Schema> {
        serde_json::from_value(value).unwrap_or_else(|e| {
            RefOr::T(Schema::Object(
                utoipa::openapi::schema::Object::builder()
                    .description(Some(format!("(schema error: {e})")))
                    .build(),
            ))
        })
    }

    /// Every IANA time zone `timeZone` accepts, as the component `TimeZone`.
    pub struct TimeZone;

    impl utoipa::PartialSchema for TimeZone {
        fn schema() -> RefOr<Schema> {
            let mut zones: Vec<String> = jiff::tz::db()
                .available()
                .map(|name| name.as_str().to_owned())
                .filter(|name| jiff::tz::TimeZone::get(name).is_ok())
                .collect();
            zones.sort();
            zones.dedup();
            from_json(json!({
                "type": "string",
                "description": "an IANA time zone",
                "enum": zones,
                "example": "Australia/Sydney",
            }))
        }
    }

    impl utoipa::ToSchema for TimeZone {
        fn name() -> Cow<'static, str> {
            Cow::Borrowed("TimeZone")
        }
    }

    fn at() -> serde_json::Value {
        json!({"type": "string", "pattern": "^([01][0-9]|2[0-3]):[0-5][0-9]$", "example": "02:00",
               "description": "local time HH:MM in timeZone (for hourly, its minute)"})
    }

    fn hours() -> serde_json::Value {
        json!({"type": ["integer", "null"], "minimum": 1, "maximum": 24, "example": 3,
               "description": "hours between slots, which are the UTC multiples of `hours` hours since the Unix epoch (every 3 hours: 00:00, 03:00, … UTC; at and timeZone play no part); left out or null: 3"})
    }

    fn zone() -> serde_json::Value {
        json!({"$ref": "#/components/schemas/TimeZone"})
    }

    fn on_change() -> serde_json::Value {
        json!({"type": ["boolean", "null"], "default": false,
               "description": "also push soon after the tenant's directory audit log shows a change to Conditional Access, authentication methods or domains (trigger `change`, polled every DOCSYNC_CHANGE_POLL_SECS); any mode, manual included"})
    }

    /// A schedule body; `every_is_default`: a missing mode means `every` (PSA syncs), else
    /// `nightly` (posture pushes, which also take `onChange`).
    fn body(every_is_default: bool, description: &str) -> RefOr<Schema> {
        let mut clock = json!({
            "type": "object",
            "title": "at a local time",
            "properties": {
                "mode": {"type": "string", "enum": ["nightly", "hourly", "manual"],
                         "description": "nightly: once a day at `at`; hourly: every hour at the minute of `at`; manual: only when asked"},
                "at": at(),
                "timeZone": zone(),
            },
            "additionalProperties": false,
        });
        let mut every = json!({
            "type": "object",
            "title": "every N hours",
            "properties": {
                "mode": {"type": "string", "enum": ["every"]},
                "at": at(),
                "timeZone": zone(),
                "hours": hours(),
            },
            "additionalProperties": false,
        });
        if every_is_default {
            clock["required"] = json!(["mode"]);
        } else {
            every["required"] = json!(["mode"]);
            clock["properties"]["onChange"] = on_change();
            every["properties"]["onChange"] = on_change();
        }
        from_json(json!({
            "description": description,
            "oneOf": [clock, every],
        }))
    }

    /// The `schedule` of `PUT /integrations/{hudu|it-glue}`.
    pub struct ScheduleBody;

    impl utoipa::PartialSchema for ScheduleBody {
        fn schema() -> RefOr<Schema> {
            body(false, "when scheduled pushes happen; a missing field takes its default (nightly, 02:00, Australia/Sydney); hours goes only with mode every")
        }
    }

    impl utoipa::ToSchema for ScheduleBody {
        fn name() -> Cow<'static, str> {
            Cow::Borrowed("Schedule")
        }

        fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
            schemas.push((
                "TimeZone".into(),
                <TimeZone as utoipa::PartialSchema>::schema(),
            ));
        }
    }

    /// The `schedule` of `PUT /integrations/{psa}`.
    pub struct PsaScheduleBody;

    impl utoipa::PartialSchema for PsaScheduleBody {
        fn schema() -> RefOr<Schema> {
            body(true, "when scheduled syncs happen; a missing field takes its default: every 3 hours (`{\"hours\": 6}` alone is every 6 hours); hours goes only with mode every; a missing at or timeZone is 02:00 or Australia/Sydney")
        }
    }

    impl utoipa::ToSchema for PsaScheduleBody {
        fn name() -> Cow<'static, str> {
            Cow::Borrowed("PsaSchedule")
        }

        fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
            schemas.push((
                "TimeZone".into(),
                <TimeZone as utoipa::PartialSchema>::schema(),
            ));
        }
    }

    /// A schedule as stored and shown: every field, `hours` with mode `every` only.
    pub struct ScheduleView;

    impl utoipa::PartialSchema for ScheduleView {
        fn schema() -> RefOr<Schema> {
            from_json(json!({
                "type": "object",
                "description": "when scheduled runs happen; hours is there with mode every only",
                "properties": {
                    "mode": {"type": "string", "enum": ["nightly", "hourly", "every", "manual"]},
                    "at": at(),
                    "timeZone": {"type": "string", "example": "Australia/Sydney"},
                    "hours": {"type": "integer", "minimum": 1, "maximum": 24},
                    "onChange": {"type": "boolean", "description": "posture pushes also follow audit-log changes; there only when true"},
                },
                "required": ["mode", "at", "timeZone"],
            }))
        }
    }

    impl utoipa::ToSchema for ScheduleView {
        fn name() -> Cow<'static, str> {
            Cow::Borrowed("ScheduleView")
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;
        use utoipa::PartialSchema;

        #[test]
        fn the_schemas_are_well_formed_and_list_real_zones() {
            for schema in [
                ScheduleBody::schema(),
                PsaScheduleBody::schema(),
                ScheduleView::schema(),
                TimeZone::schema(),
            ] {
                let text = serde_json::to_string(&schema).unwrap_or_default();
                assert!(!text.contains("schema error"), "{text}");
            }
            let zones = serde_json::to_value(TimeZone::schema()).unwrap_or_default();
            let zones = zones["enum"].as_array().cloned().unwrap_or_default();
            assert!(zones.len() > 300, "{}", zones.len());
            assert!(zones.contains(&json!("Australia/Sydney")));
            assert!(zones.contains(&json!("UTC")));
        }
    }
}

pub use schema::{PsaScheduleBody, ScheduleBody, ScheduleView, TimeZone};
