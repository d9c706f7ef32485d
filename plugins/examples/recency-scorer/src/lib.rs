//! An example of a vendor's own churn model, to copy. A scorer is pure
//! computation: the host hands it contacts as features (named in
//! plugin.toml's `[scorer]` table), never who they are, and it answers one
//! prediction per contact, in the same order.
//!
//! ```text
//! never ordered: 0.1
//! risk = 0.6 · clamp(days since order / 180) + 0.25 · (1 − min(orders in 12 months, 4) / 4) + 0.15 · churn intent
//! tagged `vip`: risk · 0.5 (the retention programme keeps them)
//! ```

use socialcrm_sdk::scorer::{Descriptor, Factor, Prediction, ScoreRequest, Scorer, Subject, feature};

struct RecencyScorer;

/// A feature's value when present; the host leaves out what it cannot know
/// (`days-since-order` of someone who never ordered), and a NaN or infinite
/// value is treated the same way.
fn get(subject: &Subject, name: &str) -> Option<f64> {
    feature(subject, name).filter(|v| v.is_finite())
}

fn plural(n: i64) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// One contact's churn risk and the reasons for it.
fn predict(subject: &Subject) -> Prediction {
    // Without an order there is nothing to lapse from: a small base risk.
    let Some(days) = get(subject, "days-since-order") else {
        let factors = vec![factor("days-since-order", 0.1, "never ordered".into())];
        return Prediction { score: 0.1, factors };
    };
    let orders = get(subject, "orders-12m").unwrap_or(0.0).max(0.0).round() as i64;
    let intent = get(subject, "churn-intent-30d").unwrap_or(0.0).clamp(0.0, 1.0);

    // Each factor says which feature it comes from and how much it added,
    // so the agent sees why, not just a number.
    let days = days.round() as i64;
    let recency = 0.6 * (days as f64 / 180.0).clamp(0.0, 1.0);
    let frequency = 0.25 * (1.0 - orders.min(4) as f64 / 4.0);
    let leaving = 0.15 * intent;
    let mut factors = vec![
        factor(
            "days-since-order",
            recency,
            format!("no order for {days} day{}", plural(days)),
        ),
        factor(
            "orders-12m",
            frequency,
            format!("{orders} order{} in 12 months", plural(orders)),
        ),
    ];
    if intent > 0.0 {
        factors.push(factor("churn-intent-30d", leaving, "said they may leave".into()));
    }
    let mut risk = recency + frequency + leaving;

    // Tags come as `subject.tags`, not as a feature value.
    if subject.tags.iter().any(|t| t.trim().eq_ignore_ascii_case("vip")) {
        // A negative contribution: the factor took risk away.
        factors.push(factor("tags", -risk * 0.5, "VIP: half the risk".into()));
        risk *= 0.5;
    }
    // The most telling first (the host keeps at most 8); parts that added nothing are left out.
    factors.retain(|f| f.contribution != 0.0);
    factors.sort_by(|a, b| b.contribution.abs().total_cmp(&a.contribution.abs()));
    Prediction {
        score: risk.clamp(0.0, 1.0),
        factors,
    }
}

fn factor(feature: &str, contribution: f64, note: String) -> Factor {
    Factor {
        feature: feature.into(),
        contribution,
        note,
    }
}

impl Scorer for RecencyScorer {
    fn describe() -> Descriptor {
        Descriptor {
            predicts: vec!["churn-risk".into()],
            description: "Churn risk from order recency and frequency and a stated wish to leave; VIPs count half"
                .into(),
        }
    }

    // Exactly one prediction per subject, in order: the host matches them up by position.
    // It only asks for what `describe` predicts, so `request.prediction` is always `churn-risk`.
    fn score(request: ScoreRequest) -> Vec<Prediction> {
        request.subjects.iter().map(predict).collect()
    }
}

socialcrm_sdk::export_scorer!(RecencyScorer);

#[cfg(test)]
mod tests {
    use socialcrm_sdk::scorer::Feature;

    use super::*;

    fn subject(features: &[(&str, f64)], tags: &[&str]) -> Subject {
        let features = features
            .iter()
            .map(|&(name, value)| Feature {
                name: name.into(),
                value,
            })
            .collect();
        Subject {
            features,
            tags: tags.iter().map(|t| t.to_string()).collect(),
        }
    }

    fn score(subjects: Vec<Subject>) -> Vec<Prediction> {
        let request = ScoreRequest {
            prediction: "churn-risk".into(),
            value_currency: None,
            subjects,
        };
        <RecencyScorer as Scorer>::score(request)
    }

    #[test]
    fn scores_recency_frequency_intent_and_vips() {
        let lapsed = [
            ("days-since-order", 200.0),
            ("orders-12m", 1.0),
            ("churn-intent-30d", 1.0),
        ];
        let p = score(vec![
            subject(&[], &[]),
            subject(&lapsed, &[]),
            subject(&lapsed, &["VIP"]),
        ]);
        assert_eq!(p.len(), 3);
        assert_eq!(p[0].score, 0.1);
        let risk = 0.6 + 0.25 * 0.75 + 0.15;
        assert!((p[1].score - risk).abs() < 1e-12);
        let notes: Vec<&str> = p[1].factors.iter().map(|f| f.note.as_str()).collect();
        assert_eq!(
            notes,
            ["no order for 200 days", "1 order in 12 months", "said they may leave"]
        );
        assert!((p[2].score - risk * 0.5).abs() < 1e-12);
        assert!(
            p[2].factors
                .iter()
                .any(|f| f.note == "VIP: half the risk" && f.contribution < 0.0)
        );
    }

    #[test]
    fn a_frequent_recent_buyer_is_safe_and_nan_is_absent() {
        let p = score(vec![subject(&[("days-since-order", 0.0), ("orders-12m", 6.0)], &[])]);
        assert_eq!(p[0].score, 0.0);
        assert!(p[0].factors.is_empty());
        let p = score(vec![subject(&[("days-since-order", f64::NAN)], &[])]);
        assert_eq!(p[0].score, 0.1);
    }
}
