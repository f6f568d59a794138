//! The fleet benchmark's summary table in `docs/benchmarks.md`, generated from the lines the
//! benchmark recorded, so the table can never show a figure no run produced.
//!
//! The table sits between `<!-- table:fleet -->` and `<!-- /table:fleet -->` and is rewritten
//! whenever a fleet line is recorded: one column per run (the newest [`RUNS_SHOWN`]), a run
//! being the lines from one "Graph collection" line to the next. Every cell is read back from
//! a recorded line (ratios, 429s, CPU, latencies, memory); a figure a run did not record shows
//! as "-". Pure text in, text out: no I/O here.

/// Runs shown side by side, newest last.
const RUNS_SHOWN: usize = 4;

const BEGIN: &str = "<!-- table:fleet -->";
const END: &str = "<!-- /table:fleet -->";
const RUNS: &str = "<!-- runs:fleet -->";

/// One run's figures as read back from its lines.
#[derive(Debug, Default, PartialEq)]
struct Run {
    /// "release build, 2026-12-02 17:54 UTC": the first line's prefix.
    when: String,
    latency_on: bool,
    a: Option<Round>,
    b: Vec<Round>,
    c: Option<Round>,
    reused: Option<(f64, f64)>,
    fresh: Option<(f64, f64)>,
    resident_mib: Option<f64>,
}

/// One push round's figures.
#[derive(Debug, Default, PartialEq, Clone, Copy)]
struct Round {
    pushes: f64,
    ratio: f64,
    rejected: f64,
    /// Fleet, PostgreSQL and RabbitMQ CPU per push (ms), when the line names all three.
    cpu_total: Option<f64>,
}

/// The number written right after the first `marker` in `line`.
fn after(line: &str, marker: &str) -> Option<f64> {
    let rest = &line[line.find(marker)? + marker.len()..];
    let end = rest
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(rest.len());
    rest[..end].trim_end_matches('.').parse().ok()
}

/// The number written right before the first `marker` in `line`.
fn before(line: &str, marker: &str) -> Option<f64> {
    let head = &line[..line.find(marker)?];
    let start = head
        .rfind(|c: char| !(c.is_ascii_digit() || c == '.'))
        .map_or(0, |i| i + 1);
    head[start..].parse().ok()
}

fn round(line: &str) -> Option<Round> {
    let cpu_total = after(line, " total ").or_else(|| {
        // Lines before 2026-12-02: "fleet CPU x ms/push (PostgreSQL y, RabbitMQ z)".
        Some(after(line, "fleet CPU ")? + after(line, "(PostgreSQL ")? + after(line, "RabbitMQ ")?)
    });
    Some(Round {
        pushes: before(line, " pushes (")?,
        ratio: after(line, " s = ")?,
        rejected: before(line, " × 429").unwrap_or(0.0),
        cpu_total,
    })
}

/// The recorded runs in `lines` (the list under the runs marker), oldest first.
fn runs(lines: &[&str]) -> Vec<Run> {
    let mut runs: Vec<Run> = Vec::new();
    for line in lines.iter().filter(|l| l.starts_with("- ")) {
        if line.contains("| Graph collection") || runs.is_empty() {
            let when = line[2..].split(" (").next().unwrap_or_default().to_owned();
            runs.push(Run {
                when,
                ..Run::default()
            });
        }
        let Some(run) = runs.last_mut() else { continue };
        run.latency_on |= line.contains("latency on");
        if line.contains("| (a) ") {
            run.a = round(line);
        } else if line.contains("| (b) ") {
            run.b.extend(round(line));
        } else if line.contains("| (c) ") {
            run.c = round(line);
        } else if line.contains("push-now latency") {
            let figures = after(line, "p50 ").zip(after(line, "p99 "));
            if line.contains("fresh Graph collection") {
                run.fresh = figures;
            } else {
                run.reused = figures;
            }
        } else if line.contains("peak resident") {
            run.resident_mib = after(line, "peak resident ");
        }
    }
    runs
}

fn median(mut values: Vec<f64>) -> Option<f64> {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied()
}

fn cell(value: Option<String>) -> String {
    value.unwrap_or_else(|| "-".to_owned())
}

/// The table for the newest runs.
fn table(runs: &[Run]) -> String {
    let shown = &runs[runs.len().saturating_sub(RUNS_SHOWN)..];
    let mut out = String::from("| scenario |");
    for r in shown {
        out.push_str(&format!(" {} |", r.when));
    }
    out.push_str(" target |\n|---|");
    for _ in shown {
        out.push_str("---|");
    }
    out.push_str("---|\n");
    let mut row = |name: &str, target: &str, value: &dyn Fn(&Run) -> Option<String>| {
        out.push_str(&format!("| {name} |"));
        for r in shown {
            out.push_str(&format!(" {} |", cell(value(r))));
        }
        out.push_str(&format!(" {target} |\n"));
    };
    row("provider answers", "", &|r| {
        Some(if r.latency_on {
            "latency on (lognormal, median 250 ms, p99 1.5 s, 0-50 ms jitter)".to_owned()
        } else {
            "instant (easier than real providers)".to_owned()
        })
    });
    row("(a) one key: wall vs lower bound", "≤ 1.05x", &|r| {
        r.a.map(|a| format!("{:.3}x ({:.0} pushes)", a.ratio, a.pushes))
    });
    row(
        "(b) many keys: wall vs lower bound, median of rounds",
        "≤ 1.3x",
        &|r| {
            median(r.b.iter().map(|b| b.ratio).collect())
                .map(|m| format!("{m:.2}x ({} rounds)", r.b.len()))
        },
    );
    row(
        "(c) first push, fresh key: wall vs lower bound",
        "≤ 1.05x",
        &|r| {
            r.c.map(|c| format!("{:.3}x ({:.0} pushes)", c.ratio, c.pushes))
        },
    );
    row("429s in all rounds", "0", &|r| {
        let all: Vec<&Round> = r.a.iter().chain(&r.b).chain(&r.c).collect();
        (!all.is_empty()).then(|| format!("{:.0}", all.iter().map(|x| x.rejected).sum::<f64>()))
    });
    row(
        "(b) CPU per push in all (fleet + PostgreSQL + RabbitMQ), median",
        "≤ 3 ms",
        &|r| median(r.b.iter().filter_map(|b| b.cpu_total).collect()).map(|m| format!("{m:.2} ms")),
    );
    row("(a) CPU per push in all", "≤ 3 ms", &|r| {
        r.a.and_then(|a| a.cpu_total).map(|m| format!("{m:.2} ms"))
    });
    row(
        "push-now p50 / p99, fresh collection",
        "p99 ≤ 3 s",
        &|r| r.fresh.map(|(p50, p99)| format!("{p50:.0} / {p99:.0} ms")),
    );
    row("push-now p50 / p99, snapshot reused", "", &|r| {
        r.reused.map(|(p50, p99)| format!("{p50:.0} / {p99:.0} ms"))
    });
    row(
        "publisher peak resident, messages queued",
        "< 64 MiB",
        &|r| r.resident_mib.map(|m| format!("{m:.1} MiB")),
    );
    out
}

/// `lines` (the whole document) with the fleet table regenerated from the recorded runs, if
/// the document has the table's markers.
pub(crate) fn refresh(lines: &mut Vec<String>) {
    let (Some(begin), Some(end)) = (
        lines.iter().position(|l| l.trim() == BEGIN),
        lines.iter().position(|l| l.trim() == END),
    ) else {
        return;
    };
    if end <= begin {
        return;
    }
    let recorded: Vec<&str> = lines
        .iter()
        .skip_while(|l| l.trim() != RUNS)
        .skip(1)
        .take_while(|l| l.starts_with("- "))
        .map(String::as_str)
        .collect();
    let generated: Vec<String> = table(&runs(&recorded)).lines().map(str::to_owned).collect();
    lines.splice(begin + 1..end, generated);
}

#[cfg(test)]
mod tests {
    use super::*;

    const OLD: &str = "- release build, 2026-11-22 12:35 UTC (2 cores, Xeon): | (b) 50 IT Glue keys | 2000 pushes (2000 succeeded, 0 failed) | wall 9.0 s vs lower bound 4.2 s = 2.148x (46.6% of the budget) | 0 × 429, busiest second 10 requests | 1.05 requests/push | fleet CPU 2.02 ms/push (PostgreSQL 3.14, RabbitMQ 1.10); machine CPU 80% busy |";

    fn run_lines() -> Vec<String> {
        let p = "- release build, 2026-12-03 07:30 UTC (2 cores, AMD EPYC): ";
        vec![
            format!("{p}| Graph collection in the benchmark process | 2000 tenants | 12.7 s | 157.3 tenants/s |"),
            format!("{p}| (a) one IT Glue key | 2000 pushes (2000 succeeded, 0 failed) | wall 216.0 s vs lower bound 200.2 s = 1.079x (92.7% of the budget) | 0 × 429, busiest second 10 requests | 1.00 requests/push | CPU per push: fleet 2.34 ms, PostgreSQL 2.96 ms (x), RabbitMQ 1.02 ms (y), total 6.32 ms; machine | latency on: every answer |"),
            format!("{p}| (b) 50 IT Glue keys | 2000 pushes (2000 succeeded, 0 failed) | wall 13.9 s vs lower bound 4.2 s = 3.308x (30.2%) | 2 × 429, busiest second 11 requests | CPU per push: fleet 2.43 ms, PostgreSQL 3.80 ms, RabbitMQ 1.40 ms, total 7.63 ms; |"),
            format!("{p}| (b) 50 IT Glue keys | 2000 pushes (2000 succeeded, 0 failed) | wall 12.4 s vs lower bound 4.0 s = 3.107x (32.2%) | 0 × 429 | total 7.53 ms; |"),
            format!("{p}| (b) 50 IT Glue keys | 2000 pushes (2000 succeeded, 0 failed) | wall 16.1 s vs lower bound 4.0 s = 4.019x (24.9%) | 0 × 429 | total 8.35 ms; |"),
            format!("{p}| (c) first push, fresh key, 400 tenants | 400 pushes (400 succeeded, 0 failed) | wall 90.0 s vs lower bound 82.0 s = 1.098x | 1 × 429 | total 9.00 ms; |"),
            format!("{p}| push-now latency, idle fleet (request to provider write), snapshot reused | 20 pushes | p50 52 ms, p99 91 ms, max 91 ms | latency on |"),
            format!("{p}| push-now latency, idle fleet (request to provider write), fresh Graph collection of a tenant never collected, then the write | 20 pushes | p50 1700 ms, p99 2900 ms, max 2900 ms | latency on |"),
            format!("{p}| publisher memory with 2000 publish messages queued | peak resident 36.0 MiB over 20 s of publishing | target < 64 MiB: met |"),
        ]
    }

    #[test]
    fn every_figure_is_read_back_from_its_line() {
        let lines = run_lines();
        let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
        let runs = runs(&refs);
        assert_eq!(runs.len(), 1);
        let r = &runs[0];
        assert_eq!(r.when, "release build, 2026-12-03 07:30 UTC");
        assert!(r.latency_on);
        let a = r.a.unwrap_or_default();
        assert_eq!(
            (a.pushes, a.ratio, a.cpu_total),
            (2000.0, 1.079, Some(6.32))
        );
        assert_eq!(r.b.len(), 3);
        assert_eq!(r.b[0].rejected, 2.0);
        assert_eq!(r.c.map(|c| (c.pushes, c.ratio)), Some((400.0, 1.098)));
        assert_eq!(r.reused, Some((52.0, 91.0)));
        assert_eq!(r.fresh, Some((1700.0, 2900.0)));
        assert_eq!(r.resident_mib, Some(36.0));
        let t = table(&runs);
        assert!(
            t.contains(
                "| (b) many keys: wall vs lower bound, median of rounds | 3.31x (3 rounds) |"
            ),
            "{t}"
        );
        assert!(t.contains("| 429s in all rounds | 3 |"), "{t}");
        assert!(
            t.contains(
                "| (b) CPU per push in all (fleet + PostgreSQL + RabbitMQ), median | 7.63 ms |"
            ),
            "{t}"
        );
        assert!(
            t.contains("| push-now p50 / p99, fresh collection | 1700 / 2900 ms |"),
            "{t}"
        );
        assert!(t.contains("latency on"), "{t}");
    }

    #[test]
    fn old_lines_sum_their_three_cpu_figures() {
        let r = round(OLD).unwrap_or_default();
        assert_eq!(r.ratio, 2.148);
        assert!(
            r.cpu_total.is_some_and(|c| (c - 6.26).abs() < 1e-9),
            "{r:?}"
        );
    }

    #[test]
    fn the_table_between_its_markers_is_regenerated_and_the_rest_kept() {
        let mut doc: Vec<String> = ["# Fleet", BEGIN, "| stale | 9.99x |", END, "prose", RUNS]
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        doc.extend(run_lines());
        doc.push(String::new());
        doc.push("## Next".to_owned());
        refresh(&mut doc);
        let text = doc.join("\n");
        assert!(!text.contains("stale"), "{text}");
        assert!(
            text.contains("| (a) one key: wall vs lower bound | 1.079x (2000 pushes) |"),
            "{text}"
        );
        assert!(text.contains("prose") && text.contains("## Next"));
        // Regenerating again changes nothing.
        let again = {
            let mut d = doc.clone();
            refresh(&mut d);
            d
        };
        assert_eq!(again, doc);
    }
}
