//! Stripe's amounts are integers in the currency's minor unit
//! (<https://docs.stripe.com/currencies>): cents for most currencies, the
//! unit itself for zero-decimal ones (JPY 500 is `500`), thousandths for
//! three-decimal ones (KWD 5.120 is `5120`). The contract wants the major
//! unit as a decimal string, and ISO codes in capitals (Stripe's are lower-case).

/// Zero-decimal currencies, as Stripe lists them. (ISK, HUF and TWD keep
/// two decimals in the API even where only whole units are charged.)
const ZERO_DECIMAL: &[&str] = &[
    "BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "UGX", "VND", "VUV", "XAF", "XOF", "XPF",
];

/// Three-decimal currencies, as Stripe lists them.
const THREE_DECIMAL: &[&str] = &["BHD", "JOD", "KWD", "OMR", "TND"];

/// The currency's ISO 4217 code in capitals.
pub fn code(currency: &str) -> String {
    currency.trim().to_ascii_uppercase()
}

/// Digits after the decimal point of `code`'s amounts.
fn exponent(code: &str) -> u32 {
    if ZERO_DECIMAL.contains(&code) {
        0
    } else if THREE_DECIMAL.contains(&code) {
        3
    } else {
        2
    }
}

/// `minor` units of `currency` as a decimal string in the major unit:
/// `1999` USD is `19.99`, `-5` EUR is `-0.05`, `500` JPY is `500`.
pub fn decimal(minor: i64, currency: &str) -> String {
    let places = exponent(&code(currency));
    let sign = if minor < 0 { "-" } else { "" };
    let abs = minor.unsigned_abs();
    if places == 0 {
        return format!("{sign}{abs}");
    }
    let unit = 10u64.pow(places);
    format!("{sign}{}.{:0width$}", abs / unit, abs % unit, width = places as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minor_units_become_the_major_unit_per_currency() {
        assert_eq!(decimal(1999, "usd"), "19.99");
        assert_eq!(decimal(5, "eur"), "0.05");
        assert_eq!(decimal(-250, "EUR"), "-2.50");
        assert_eq!(decimal(0, "gbp"), "0.00");
        assert_eq!(decimal(1500, "jpy"), "1500");
        assert_eq!(decimal(-300, "krw"), "-300");
        assert_eq!(decimal(12345, "kwd"), "12.345");
        assert_eq!(decimal(5120, "bhd"), "5.120");
        assert_eq!(decimal(7, "tnd"), "0.007");
        // ISK stays two-decimal in the API: 100 is one króna.
        assert_eq!(decimal(50000, "isk"), "500.00");
        assert_eq!(decimal(i64::MIN, "usd"), "-92233720368547758.08");
        assert_eq!(code(" usd"), "USD");
    }
}
