//! Currencies (docs/currencies.md): ISO 4217 codes, the reporting currency
//! that lifetime values are counted in, and the rates the admin supplies to
//! convert the others into it. Amounts of a currency without a rate are
//! never added to another currency's: they are reported apart.

use serde::Serialize;
use serde_json::json;
use thiserror::Error;

use crate::store::{self, Db, audit, currencies, now_ms};

#[derive(Debug, Error)]
pub enum CurrencyError {
    #[error("`{0}` is not a three-letter ISO 4217 currency code")]
    Code(String),
    #[error("the rate of {currency} must be a positive number, not `{rate}`")]
    Rate { currency: String, rate: String },
    #[error("`{0}` is not CODE=RATE (for example USD=0.92)")]
    Pair(String),
    #[error("line {line}: {reason}")]
    Line { line: usize, reason: String },
    #[error("{0} is the reporting currency: its rate is 1")]
    Reporting(String),
    #[error("no rates given")]
    Empty,
    #[error("there is no reporting currency yet: choose one first (socialcrm currency reporting CODE)")]
    NoReporting,
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// `raw` as an ISO 4217 code: three letters, upper-cased.
pub fn code(raw: &str) -> Result<String, CurrencyError> {
    let code = raw.trim().to_uppercase();
    if code.len() == 3 && code.bytes().all(|b| b.is_ascii_uppercase()) {
        Ok(code)
    } else {
        Err(CurrencyError::Code(raw.to_string()))
    }
}

/// A rate of `currency`: positive and finite.
pub fn rate(currency: &str, rate: f64) -> Result<f64, CurrencyError> {
    if rate.is_finite() && rate > 0.0 {
        Ok(rate)
    } else {
        Err(CurrencyError::Rate {
            currency: currency.to_string(),
            rate: rate.to_string(),
        })
    }
}

fn parse_rate(currency: &str, raw: &str) -> Result<f64, CurrencyError> {
    let bad = || CurrencyError::Rate {
        currency: currency.to_string(),
        rate: raw.to_string(),
    };
    raw.trim()
        .parse::<f64>()
        .map_err(|_| bad())
        .and_then(|r| rate(currency, r).map_err(|_| bad()))
}

/// `USD=0.92`: one US dollar is 0.92 of the reporting currency.
pub fn pair(raw: &str) -> Result<(String, f64), CurrencyError> {
    let (c, r) = raw
        .split_once('=')
        .ok_or_else(|| CurrencyError::Pair(raw.to_string()))?;
    let c = code(c)?;
    let r = parse_rate(&c, r)?;
    Ok((c, r))
}

/// A rates file: CSV lines `currency,rate`, an optional header line naming
/// those columns, blank lines and `#` comments skipped. An error names its line.
pub fn parse_file(text: &str) -> Result<Vec<(String, f64)>, CurrencyError> {
    let mut rates = Vec::new();
    for (i, line) in text.trim_start_matches('\u{feff}').lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = line.split([',', ';', '\t']).map(str::trim).collect();
        if rates.is_empty() && fields.first().is_some_and(|f| f.eq_ignore_ascii_case("currency")) {
            continue;
        }
        let at = |e: CurrencyError| CurrencyError::Line {
            line: i + 1,
            reason: e.to_string(),
        };
        let [c, r] = fields[..] else {
            return Err(at(CurrencyError::Pair(line.to_string())));
        };
        let c = code(c).map_err(at)?;
        let r = parse_rate(&c, r).map_err(at)?;
        rates.push((c, r));
    }
    if rates.is_empty() {
        return Err(CurrencyError::Empty);
    }
    Ok(rates)
}

/// The currency lifetime values are counted in: the admin's choice, else
/// (until they choose) the currency most transactions are in.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Reporting {
    pub currency: String,
    /// True when no admin chose it: it is the most used currency.
    pub inferred: bool,
}

/// The reporting currency; none while there is neither a choice nor a transaction.
/// Only a valid code comes out: the queries that convert quote it.
pub async fn reporting(db: &Db) -> Result<Option<Reporting>, sqlx::Error> {
    if let Some(currency) = store::trust::setting(db, currencies::REPORTING).await?
        && let Ok(currency) = code(&currency)
    {
        return Ok(Some(Reporting {
            currency,
            inferred: false,
        }));
    }
    let most_used = currencies::most_used(db).await?;
    Ok(most_used.and_then(|c| code(&c).ok()).map(|currency| Reporting {
        currency,
        inferred: true,
    }))
}

/// Where the currencies stand: the reporting one, its rates, and every
/// currency transactions are in with whether it converts.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Overview {
    pub reporting: Option<Reporting>,
    pub rates: Vec<currencies::Rate>,
    pub in_use: Vec<currencies::InUse>,
}

pub async fn overview(db: &Db) -> Result<Overview, sqlx::Error> {
    let reporting = reporting(db).await?;
    let base = reporting.as_ref().map(|r| r.currency.as_str());
    Ok(Overview {
        rates: match base {
            Some(base) => currencies::rates(db, base).await?,
            None => Vec::new(),
        },
        in_use: currencies::in_use(db, base).await?,
        reporting,
    })
}

/// Chooses the reporting currency (audited). Rates to the one before stay
/// stored but convert nothing until it is chosen again.
pub async fn set_reporting(db: &Db, raw: &str, actor: &str) -> Result<String, CurrencyError> {
    let to = code(raw)?;
    let from = store::trust::setting(db, currencies::REPORTING).await?;
    if from.as_deref() != Some(to.as_str()) {
        let mut tx = db.begin().await?;
        store::trust::set_setting(&mut tx, currencies::REPORTING, &to).await?;
        audit(&mut *tx, actor, "currency.reporting", &to, &json!({"from": from})).await?;
        tx.commit().await?;
    }
    Ok(to)
}

/// Stores rates to the reporting currency (audited, one transaction); the
/// reporting currency is fixed first when it was only inferred, so the
/// rates keep meaning what the admin meant.
pub async fn set_rates(db: &Db, rates: &[(String, f64)], actor: &str) -> Result<String, CurrencyError> {
    if rates.is_empty() {
        return Err(CurrencyError::Empty);
    }
    let base = reporting(db).await?.ok_or(CurrencyError::NoReporting)?.currency;
    if let Some((c, _)) = rates.iter().find(|(c, _)| *c == base) {
        return Err(CurrencyError::Reporting(c.clone()));
    }
    let mut tx = db.begin().await?;
    store::trust::set_setting(&mut tx, currencies::REPORTING, &base).await?;
    currencies::upsert(&mut tx, &base, rates, now_ms()).await?;
    let details = json!({"base": base, "rates": rates.iter().map(|(c, r)| json!({"currency": c, "rate": r})).collect::<Vec<_>>()});
    audit(&mut *tx, actor, "currency.rates", &base, &details).await?;
    tx.commit().await?;
    Ok(base)
}

/// Removes the rate of `currency` to the reporting currency (audited);
/// false when there was none.
pub async fn remove_rate(db: &Db, raw: &str, actor: &str) -> Result<bool, CurrencyError> {
    let currency = code(raw)?;
    let Some(base) = reporting(db).await?.map(|r| r.currency) else {
        return Ok(false);
    };
    let mut tx = db.begin().await?;
    let removed = currencies::remove(&mut tx, &base, &currency).await?;
    if removed {
        audit(
            &mut *tx,
            actor,
            "currency.rate-removed",
            &currency,
            &json!({"base": base}),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_three_letters() {
        assert_eq!(code(" eur ").unwrap(), "EUR");
        for bad in ["EURO", "E1R", "", "€", "ÉUR"] {
            assert!(code(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn pairs_and_rates() {
        assert_eq!(pair("usd=0.92").unwrap(), ("USD".into(), 0.92));
        for bad in ["USD", "USD=", "USD=0", "USD=-1", "USD=inf", "USD=NaN", "US=1"] {
            assert!(pair(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_rates_file_names_the_bad_line() {
        let ok = "\u{feff}currency,rate\n# from the bank, 2026-12-01\nUSD,0.92\n\njpy;0.0061\n";
        assert_eq!(
            parse_file(ok).unwrap(),
            vec![("USD".into(), 0.92), ("JPY".into(), 0.0061)]
        );
        let err = parse_file("currency,rate\nUSD,0.92\nGBP,abc\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "line 3: the rate of GBP must be a positive number, not `abc`"
        );
        assert!(
            parse_file("USD,0.92,extra")
                .unwrap_err()
                .to_string()
                .starts_with("line 1:")
        );
        assert!(matches!(parse_file("currency,rate\n"), Err(CurrencyError::Empty)));
    }
}
