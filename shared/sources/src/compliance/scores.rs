//! Framework scores: per framework, each control it names once, with a result drawn from the
//! checks mapped to it (fail when any fails; else unknown when any is unknown; else pass when
//! any passes; else not applicable), and `passed / (passed + failed)` over those controls in
//! percent with one decimal (none when nothing was evaluated). Not applicable and unknown
//! controls are outside the percentage.

use super::catalog::{control_title, framework_controls};
use docsync_domain::snapshot::{
    BaselineResult, CheckOutcome, ComplianceScores, ControlResult, FrameworkScore,
};

/// Name of the Essential Eight score.
pub const FRAMEWORK_E8: &str = "Essential Eight";
/// Name of the APRA CPS 234 score.
pub const FRAMEWORK_APRA: &str = "APRA CPS 234";
/// Name of the CIS Microsoft 365 Foundations score.
pub const FRAMEWORK_CIS: &str = "CIS M365";

/// A check's references to one framework.
type Refs = fn(&BaselineResult) -> &[String];

/// The result of a control from the outcomes of the checks mapped to it.
pub(crate) fn control_outcome(outcomes: &[CheckOutcome]) -> CheckOutcome {
    use CheckOutcome::{Fail, NotApplicable, Pass, Unknown};
    if outcomes.contains(&Fail) {
        Fail
    } else if outcomes.contains(&Unknown) {
        Unknown
    } else if outcomes.contains(&Pass) {
        Pass
    } else {
        NotApplicable
    }
}

/// The framework's controls, in catalogue order, each with its result and its checks.
fn controls(baselines: &[BaselineResult], refs: Refs) -> Vec<ControlResult> {
    let mut ids: Vec<&str> = Vec::new();
    for b in baselines {
        for r in refs(b) {
            if !ids.contains(&r.as_str()) {
                ids.push(r);
            }
        }
    }
    let rank = |id: &str| {
        framework_controls()
            .iter()
            .position(|(known, _)| *known == id)
            .unwrap_or(usize::MAX)
    };
    ids.sort_by_key(|id| rank(id));
    ids.iter()
        .map(|id| {
            let mapped: Vec<&BaselineResult> = baselines
                .iter()
                .filter(|b| refs(b).iter().any(|r| r == id))
                .collect();
            let outcomes: Vec<CheckOutcome> = mapped.iter().map(|b| b.outcome).collect();
            ControlResult {
                id: (*id).to_owned(),
                title: control_title(id).to_owned(),
                result: control_outcome(&outcomes),
                checks: mapped.iter().map(|b| b.id.clone()).collect(),
            }
        })
        .collect()
}

/// Scores every framework from the checks' results.
pub fn score_frameworks(baselines: &[BaselineResult]) -> ComplianceScores {
    let frameworks: [(&str, Refs); 3] = [
        (FRAMEWORK_E8, |b| &b.essential_eight),
        (FRAMEWORK_APRA, |b| &b.apra_cps234),
        (FRAMEWORK_CIS, |b| &b.cis_m365),
    ];
    ComplianceScores {
        frameworks: frameworks
            .iter()
            .map(|(name, refs)| {
                let controls = controls(baselines, *refs);
                let count =
                    |o: CheckOutcome| controls.iter().filter(|c| c.result == o).count() as u64;
                let passed = count(CheckOutcome::Pass);
                let failed = count(CheckOutcome::Fail);
                let evaluated = passed + failed;
                FrameworkScore {
                    framework: (*name).to_owned(),
                    passed,
                    failed,
                    unknown: count(CheckOutcome::Unknown),
                    not_applicable: count(CheckOutcome::NotApplicable),
                    percent: (evaluated > 0)
                        .then(|| (passed as f64 * 1000.0 / evaluated as f64).round() / 10.0),
                    controls,
                }
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use CheckOutcome::{Fail, NotApplicable, Pass, Unknown};

    fn result(id: &str, outcome: CheckOutcome, cis: &[&str]) -> BaselineResult {
        BaselineResult {
            id: id.into(),
            title: String::new(),
            outcome,
            detail: String::new(),
            evidence: vec![],
            essential_eight: vec![],
            apra_cps234: vec![],
            cis_m365: cis.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    fn cis(baselines: &[BaselineResult]) -> FrameworkScore {
        score_frameworks(baselines).frameworks.remove(2)
    }

    #[test]
    fn percent_is_passes_over_passes_and_fails_of_controls() {
        let s = cis(&[
            result("DS-01", Pass, &["CIS 1.1.3"]),
            result("DS-02", Pass, &["CIS 2.1.7"]),
            result("DS-03", Fail, &["CIS 2.1.9"]),
            result("DS-04", Unknown, &["CIS 3.1.1"]),
            result("DS-05", NotApplicable, &["CIS 5.2.2.1"]),
        ]);
        assert_eq!(
            (s.passed, s.failed, s.unknown, s.not_applicable, s.percent),
            (2, 1, 1, 1, Some(66.7))
        );
        assert_eq!(s.controls.len(), 5);
    }

    #[test]
    fn a_control_is_counted_once_however_many_checks_evidence_it() {
        // Two passing checks on one control are one pass, not two.
        let s = cis(&[
            result("DS-12", Pass, &["CIS 3.1.1"]),
            result("DS-16", Pass, &["CIS 3.1.1"]),
            result("DS-10", Fail, &["CIS 2.1.9"]),
        ]);
        assert_eq!((s.passed, s.failed, s.percent), (1, 1, Some(50.0)));
        assert_eq!(s.controls[1].checks, vec!["DS-12", "DS-16"]);
        // One failing check fails the control.
        let s = cis(&[
            result("DS-01", Pass, &["CIS 5.2.2.1"]),
            result("DS-05", Fail, &["CIS 5.2.2.1"]),
        ]);
        assert_eq!((s.passed, s.failed, s.percent), (0, 1, Some(0.0)));
    }

    #[test]
    fn not_applicable_is_outside_the_score_and_never_a_pass() {
        let s = cis(&[
            result("DS-12", Pass, &["CIS 3.1.1"]),
            result("DS-16", NotApplicable, &["CIS 3.1.1"]),
            result("DS-10", NotApplicable, &["CIS 2.1.9"]),
        ]);
        assert_eq!(
            (s.passed, s.failed, s.not_applicable, s.percent),
            (1, 0, 1, Some(100.0))
        );
        let only_na = cis(&[result("DS-10", NotApplicable, &["CIS 2.1.9"])]);
        assert_eq!((only_na.passed, only_na.percent), (0, None));
        assert_eq!(only_na.controls[0].result, NotApplicable);
    }

    #[test]
    fn control_outcomes_do_not_flatter() {
        assert_eq!(control_outcome(&[Pass, Fail]), Fail);
        assert_eq!(control_outcome(&[Pass, Unknown]), Unknown);
        assert_eq!(control_outcome(&[Pass, NotApplicable]), Pass);
        assert_eq!(control_outcome(&[NotApplicable]), NotApplicable);
        assert_eq!(control_outcome(&[Unknown, Fail]), Fail);
    }
}
