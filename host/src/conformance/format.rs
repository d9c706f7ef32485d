//! A report for machines: JSON, or JUnit XML for CI systems that show test
//! results (`plugin test --format json|junit`).

use serde_json::{Value, json};

use super::{Outcome, Report};

/// `{plugin, passed, failed, skipped, checks: [{name, outcome, detail}]}`;
/// `outcome` is `pass`, `fail` or `skip`, `detail` the note or the reason.
pub fn json(report: &Report) -> Value {
    let checks: Vec<Value> = report
        .checks
        .iter()
        .map(|check| {
            let (outcome, detail) = match &check.outcome {
                Outcome::Pass(note) => ("pass", note.as_deref()),
                Outcome::Fail(why) => ("fail", Some(why.as_str())),
                Outcome::Skip(why) => ("skip", Some(why.as_str())),
            };
            json!({"name": check.name, "outcome": outcome, "detail": detail})
        })
        .collect();
    json!({
        "plugin": report.plugin,
        "passed": report.passed(),
        "failed": report.failed(),
        "skipped": report.skipped(),
        "checks": checks,
    })
}

/// One `<testsuite>` with a `<testcase>` per check.
pub fn junit(report: &Report) -> String {
    let attr = |text: &str| html_escape::encode_double_quoted_attribute(text).into_owned();
    let mut xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" skipped=\"{}\">\n",
        attr(&format!("conformance of {}", report.plugin)),
        report.checks.len(),
        report.failed(),
        report.skipped()
    );
    for check in &report.checks {
        let case = format!(
            "  <testcase classname=\"socialcrm.conformance\" name=\"{}\"",
            attr(check.name)
        );
        match &check.outcome {
            Outcome::Pass(_) => xml.push_str(&format!("{case}/>\n")),
            Outcome::Fail(why) => xml.push_str(&format!(
                "{case}>\n    <failure message=\"{}\">{}</failure>\n  </testcase>\n",
                attr(why.lines().next().unwrap_or_default()),
                html_escape::encode_text(why)
            )),
            Outcome::Skip(why) => xml.push_str(&format!(
                "{case}>\n    <skipped message=\"{}\"/>\n  </testcase>\n",
                attr(why)
            )),
        }
    }
    xml.push_str("</testsuite>\n");
    xml
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conformance::Check;

    fn report() -> Report {
        Report {
            plugin: "acme 1.0.0 (channel)".into(),
            checks: vec![
                Check {
                    name: "loads in the host",
                    outcome: Outcome::Pass(None),
                },
                Check {
                    name: "maps 401",
                    outcome: Outcome::Fail(
                        "expected unauthorized, got <\"transient\"> & more\n      plugin log, warn: x".into(),
                    ),
                },
                Check {
                    name: "webhook",
                    outcome: Outcome::Skip("no recording".into()),
                },
            ],
        }
    }

    #[test]
    fn json_counts_and_lists_every_check() {
        let v = json(&report());
        assert_eq!(
            (v["passed"].as_u64(), v["failed"].as_u64(), v["skipped"].as_u64()),
            (Some(1), Some(1), Some(1))
        );
        assert_eq!(
            v["checks"][0],
            json!({"name": "loads in the host", "outcome": "pass", "detail": null})
        );
        assert_eq!(v["checks"][2]["outcome"], "skip");
        assert!(
            v["checks"][1]["detail"]
                .as_str()
                .is_some_and(|d| d.contains("plugin log"))
        );
    }

    #[test]
    fn junit_escapes_what_plugins_say() {
        let xml = junit(&report());
        assert!(
            xml.contains(
                "<testsuite name=\"conformance of acme 1.0.0 (channel)\" tests=\"3\" failures=\"1\" skipped=\"1\">"
            ),
            "{xml}"
        );
        assert!(
            xml.contains("<testcase classname=\"socialcrm.conformance\" name=\"loads in the host\"/>"),
            "{xml}"
        );
        assert!(
            xml.contains("<failure message=\"expected unauthorized, got &lt;&quot;transient&quot;&gt; &amp; more\">"),
            "{xml}"
        );
        assert!(
            xml.contains("&lt;\"transient\"&gt; &amp; more\n      plugin log, warn: x</failure>"),
            "{xml}"
        );
        assert!(xml.contains("<skipped message=\"no recording\"/>"), "{xml}");
        assert!(!xml.contains("<\"transient\">"), "{xml}");
    }
}
