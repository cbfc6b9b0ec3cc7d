//! Money in minor units of one currency. Never a float, never negative.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// An ISO 4217 currency code (three upper-case letters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Currency([u8; 3]);

impl Currency {
    pub const GBP: Currency = Currency(*b"GBP");

    /// Parses a three-letter code; lower case is accepted and normalised.
    pub fn parse(code: &str) -> Result<Self, &'static str> {
        let bytes = code.trim().as_bytes();
        if bytes.len() != 3 || !bytes.iter().all(u8::is_ascii_alphabetic) {
            return Err("expected a three-letter ISO 4217 currency code such as GBP");
        }
        let mut out = [0u8; 3];
        for (o, b) in out.iter_mut().zip(bytes) {
            *o = b.to_ascii_uppercase();
        }
        Ok(Currency(out))
    }

    pub fn code(&self) -> &str {
        std::str::from_utf8(&self.0).expect("currency codes are ASCII")
    }

    /// The symbol used in plain-language text, where one is well known.
    fn symbol(&self) -> Option<&'static str> {
        match &self.0 {
            b"GBP" => Some("£"),
            b"EUR" => Some("€"),
            b"USD" => Some("$"),
            _ => None,
        }
    }
}

impl Serialize for Currency {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.code())
    }
}

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        Currency::parse(&raw).map_err(serde::de::Error::custom)
    }
}

/// An amount of money in minor units (pence for GBP).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"amount": 2500, "currency": "GBP"}))]
pub struct Money {
    /// Amount in minor units (2500 = £25.00). Never negative.
    #[schema(minimum = 0, example = 2500)]
    pub amount: i64,
    /// ISO 4217 currency code.
    #[schema(value_type = String, pattern = "^[A-Z]{3}$", example = "GBP")]
    pub currency: Currency,
}

impl Money {
    pub fn new(amount: i64, currency: Currency) -> Self {
        Self { amount, currency }
    }

    /// "£25.00" for plain-language text (two-decimal currencies).
    pub fn display(&self) -> String {
        let whole = self.amount / 100;
        let minor = self.amount % 100;
        match self.currency.symbol() {
            Some(sym) => format!("{sym}{whole}.{minor:02}"),
            None => format!("{whole}.{minor:02} {}", self.currency.code()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn currency_codes_are_normalised_and_checked() {
        assert_eq!(Currency::parse("gbp").unwrap(), Currency::GBP);
        for bad in ["", "GB", "GBPX", "G1P", "£££"] {
            assert!(Currency::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn money_displays_in_major_units() {
        assert_eq!(Money::new(2500, Currency::GBP).display(), "£25.00");
        assert_eq!(Money::new(5, Currency::GBP).display(), "£0.05");
        let sek = Currency::parse("SEK").unwrap();
        assert_eq!(Money::new(12345, sek).display(), "123.45 SEK");
    }

    #[test]
    fn money_serialises_as_minor_units_and_code() {
        let json = serde_json::to_value(Money::new(2500, Currency::GBP)).unwrap();
        assert_eq!(json, serde_json::json!({"amount": 2500, "currency": "GBP"}));
    }
}
