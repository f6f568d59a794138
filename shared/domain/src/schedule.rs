//! Push cadence of an integration: nightly at a local time, hourly at a minute, or manual.
//!
//! `at` is local time in `timeZone` (any IANA zone); the default is nightly at 02:00
//! Australia/Sydney, as the product promises.

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
}

impl Default for Schedule {
    fn default() -> Self {
        Self {
            mode: ScheduleMode::Nightly,
            at: "02:00".into(),
            time_zone: "Australia/Sydney".into(),
        }
    }
}

impl Schedule {
    /// Parses a `schedule` JSON object, collecting every bad field as `(field, fix)`.
    /// Missing fields take the defaults.
    pub fn parse(value: &Value) -> Result<Self, Vec<(String, String)>> {
        let mut errors = Vec::new();
        let Some(obj) = value.as_object() else {
            return Err(vec![(
                "schedule".into(),
                "must be an object such as {\"mode\":\"nightly\",\"at\":\"02:00\",\"timeZone\":\"Australia/Sydney\"}".into(),
            )]);
        };
        for key in obj.keys() {
            if !matches!(key.as_str(), "mode" | "at" | "timeZone") {
                errors.push((
                    format!("schedule.{key}"),
                    "unknown field: use mode, at and timeZone".into(),
                ));
            }
        }
        let mut schedule = Schedule::default();
        match obj.get("mode") {
            None => {}
            Some(Value::String(m)) if m == "nightly" => schedule.mode = ScheduleMode::Nightly,
            Some(Value::String(m)) if m == "hourly" => schedule.mode = ScheduleMode::Hourly,
            Some(Value::String(m)) if m == "manual" => schedule.mode = ScheduleMode::Manual,
            Some(other) => errors.push((
                "schedule.mode".into(),
                format!("must be \"nightly\", \"hourly\" or \"manual\", got {other}"),
            )),
        }
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

fn parse_hh_mm(s: &str) -> Option<(i8, i8)> {
    let (h, m) = s.split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
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
}
