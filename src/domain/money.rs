//! Money in minor units of one currency. Never a float, never negative.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// ISO 4217 currencies whose minor unit is a hundredth (what [`Money::display`]
/// and the deposit settings assume).
const TWO_DECIMAL: &[&[u8; 3]] = &[
    b"AED", b"AFN", b"ALL", b"AMD", b"ANG", b"AOA", b"ARS", b"AUD", b"AWG", b"AZN", b"BAM", b"BBD",
    b"BDT", b"BGN", b"BMD", b"BND", b"BOB", b"BOV", b"BRL", b"BSD", b"BTN", b"BWP", b"BYN", b"BZD",
    b"CAD", b"CDF", b"CHE", b"CHF", b"CHW", b"CNY", b"COP", b"COU", b"CRC", b"CUC", b"CUP", b"CVE",
    b"CZK", b"DKK", b"DOP", b"DZD", b"EGP", b"ERN", b"ETB", b"EUR", b"FJD", b"FKP", b"GBP", b"GEL",
    b"GHS", b"GIP", b"GMD", b"GTQ", b"GYD", b"HKD", b"HNL", b"HTG", b"HUF", b"IDR", b"ILS", b"INR",
    b"IRR", b"JMD", b"KES", b"KGS", b"KHR", b"KPW", b"KYD", b"KZT", b"LAK", b"LBP", b"LKR", b"LRD",
    b"LSL", b"MAD", b"MDL", b"MGA", b"MKD", b"MMK", b"MNT", b"MOP", b"MRU", b"MUR", b"MVR", b"MWK",
    b"MXN", b"MXV", b"MYR", b"MZN", b"NAD", b"NGN", b"NIO", b"NOK", b"NPR", b"NZD", b"PAB", b"PEN",
    b"PGK", b"PHP", b"PKR", b"PLN", b"QAR", b"RON", b"RSD", b"RUB", b"SAR", b"SBD", b"SCR", b"SDG",
    b"SEK", b"SGD", b"SHP", b"SLE", b"SLL", b"SOS", b"SRD", b"SSP", b"STN", b"SVC", b"SYP", b"SZL",
    b"THB", b"TJS", b"TMT", b"TOP", b"TRY", b"TTD", b"TWD", b"TZS", b"UAH", b"USD", b"USN", b"UYU",
    b"UZS", b"VED", b"VES", b"WST", b"XCD", b"XCG", b"YER", b"ZAR", b"ZMW", b"ZWG", b"ZWL",
];

/// ISO 4217 currencies with another minor unit (none, a thousandth…).
const OTHER_EXPONENT: &[&[u8; 3]] = &[
    b"BHD", b"BIF", b"CLF", b"CLP", b"DJF", b"GNF", b"IQD", b"ISK", b"JOD", b"JPY", b"KMF", b"KRW",
    b"KWD", b"LYD", b"OMR", b"PYG", b"RWF", b"TND", b"UGX", b"UYI", b"UYW", b"VND", b"VUV", b"XAF",
    b"XOF", b"XPF",
];

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

    /// Whether the code is a current ISO 4217 currency with a minor unit
    /// of one hundredth; the reason when not.
    pub fn check_two_decimal(&self) -> Result<(), String> {
        if TWO_DECIMAL.contains(&&self.0) {
            Ok(())
        } else if OTHER_EXPONENT.contains(&&self.0) {
            Err(format!(
                "{} is an ISO 4217 currency without a minor unit of one hundredth; amounts here are in hundredths",
                self.code()
            ))
        } else {
            Err(format!("{} is not an ISO 4217 currency code", self.code()))
        }
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
    /// Amount in minor units (2500 = £25.00). Never negative, and at most
    /// [`Money::MAX_AMOUNT`] (£1,000,000.00).
    #[schema(minimum = 0, maximum = 100000000, example = 2500)]
    pub amount: i64,
    /// ISO 4217 currency code.
    #[schema(value_type = String, pattern = "^[A-Z]{3}$", max_length = 3, example = "GBP")]
    pub currency: Currency,
}

impl Money {
    /// The largest amount the API takes or shows: 1,000,000.00 in minor
    /// units (the `maximum` of `amount` in the OpenAPI document).
    pub const MAX_AMOUNT: i64 = 100_000_000;

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
    fn deposit_currencies_are_iso_4217_with_hundredths() {
        for ok in ["GBP", "eur", "USD", "SEK", "CHF"] {
            assert!(
                Currency::parse(ok).unwrap().check_two_decimal().is_ok(),
                "{ok}"
            );
        }
        let err = Currency::parse("ABC")
            .unwrap()
            .check_two_decimal()
            .unwrap_err();
        assert!(err.contains("not an ISO 4217"), "{err}");
        let err = Currency::parse("JPY")
            .unwrap()
            .check_two_decimal()
            .unwrap_err();
        assert!(err.contains("hundredth"), "{err}");
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
