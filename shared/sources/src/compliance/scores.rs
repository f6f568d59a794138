//! Framework scores: per framework, the mapped checks that pass, fail or are unknown, and
//! `passed / (passed + failed)` in percent with one decimal (none when nothing was evaluated).

use docsync_domain::snapshot::{BaselineResult, CheckOutcome, ComplianceScores, FrameworkScore};

/// Name of the Essential Eight score.
pub const FRAMEWORK_E8: &str = "Essential Eight";
/// Name of the APRA CPS 234 score.
pub const FRAMEWORK_APRA: &str = "APRA CPS 234";
/// Name of the CIS Microsoft 365 Foundations score.
pub const FRAMEWORK_CIS: &str = "CIS M365";

/// Whether a check is mapped to a framework.
type Mapped = fn(&BaselineResult) -> bool;

/// Scores every framework from the checks' results.
pub fn score_frameworks(baselines: &[BaselineResult]) -> ComplianceScores {
    let frameworks: [(&str, Mapped); 3] = [
        (FRAMEWORK_E8, |b| !b.essential_eight.is_empty()),
        (FRAMEWORK_APRA, |b| !b.apra_cps234.is_empty()),
        (FRAMEWORK_CIS, |b| !b.cis_m365.is_empty()),
    ];
    ComplianceScores {
        frameworks: frameworks
            .iter()
            .map(|(name, mapped)| {
                let count = |o: CheckOutcome| {
                    baselines
                        .iter()
                        .filter(|b| mapped(b) && b.outcome == o)
                        .count() as u64
                };
                let passed = count(CheckOutcome::Pass);
                let failed = count(CheckOutcome::Fail);
                let evaluated = passed + failed;
                FrameworkScore {
                    framework: (*name).to_owned(),
                    passed,
                    failed,
                    unknown: count(CheckOutcome::Unknown),
                    percent: (evaluated > 0)
                        .then(|| (passed as f64 * 1000.0 / evaluated as f64).round() / 10.0),
                }
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(outcome: CheckOutcome, e8: bool, cis: bool) -> BaselineResult {
        BaselineResult {
            id: "DS-00".into(),
            title: String::new(),
            outcome,
            detail: String::new(),
            essential_eight: if e8 { vec!["E8: x".into()] } else { vec![] },
            apra_cps234: vec!["CPS 234 ¶21".into()],
            cis_m365: if cis {
                vec!["CIS 1.1.3".into()]
            } else {
                vec![]
            },
        }
    }

    #[test]
    fn percent_is_over_evaluated_checks_only() {
        let scores = score_frameworks(&[
            result(CheckOutcome::Pass, true, false),
            result(CheckOutcome::Pass, true, false),
            result(CheckOutcome::Fail, true, false),
            result(CheckOutcome::Unknown, true, true),
        ]);
        let e8 = &scores.frameworks[0];
        assert_eq!(
            (e8.passed, e8.failed, e8.unknown, e8.percent),
            (2, 1, 1, Some(66.7))
        );
        let apra = &scores.frameworks[1];
        assert_eq!(apra.percent, Some(66.7));
        let cis = &scores.frameworks[2];
        assert_eq!((cis.unknown, cis.percent), (1, None));
    }
}
