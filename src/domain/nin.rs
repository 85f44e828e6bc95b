//! The Norwegian national identity number (fødselsnummer, D-number, H-number, synthetic test number).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize, Serializer};

/// Weights for the first check digit (over digits 1–9).
const WEIGHTS_K1: [u32; 9] = [3, 7, 6, 1, 8, 9, 4, 5, 2];
/// Weights for the second check digit (over digits 1–10).
const WEIGHTS_K2: [u32; 10] = [5, 4, 3, 2, 7, 6, 5, 4, 3, 2];

/// Why a string is not a national identity number. The messages never repeat the number itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NinError {
    /// Not exactly 11 characters once surrounding whitespace is trimmed.
    #[error("a national identity number has 11 digits, this has {0} characters")]
    WrongLength(usize),
    /// Something other than an ASCII digit (including inner spaces).
    #[error("a national identity number has only digits")]
    NotDigits,
    /// The first six digits are not a date, even allowing for D-, H- and synthetic numbers.
    #[error("the first six digits of the national identity number are not a date")]
    NotADate,
    /// One of the two mod-11 check digits does not match.
    #[error("the check digits of the national identity number do not match")]
    CheckDigits,
}

/// A checked national identity number (11 digits).
///
/// `Debug` and `Display` show only the masked form (`148422*****`), so a stray log line or `{:?}`
/// cannot leak the number. [`Nin::expose_secret`] gives the full number for the few places that
/// must compare or send it. Serde writes the full number (it is kept only in the server-side
/// session) and reads it back through [`Nin::parse`].
#[derive(Clone, PartialEq, Eq, Hash, Deserialize)]
#[serde(try_from = "String")]
pub struct Nin(String);

impl Nin {
    /// Parses 11 ASCII digits (surrounding whitespace trimmed, inner spaces refused) that form a
    /// plausible date and carry both mod-11 check digits.
    ///
    /// The date allows D-numbers (day + 40), H-numbers (month + 40) and synthetic test persons
    /// (month + 80). The century is not derived from the individual number; 29 February is
    /// accepted when the two-digit year is divisible by four.
    pub fn parse(input: &str) -> Result<Nin, NinError> {
        let trimmed = input.trim();
        let count = trimmed.chars().count();
        if count != 11 {
            return Err(NinError::WrongLength(count));
        }
        let mut digits = [0u32; 11];
        for (slot, c) in digits.iter_mut().zip(trimmed.chars()) {
            *slot = c.to_digit(10).ok_or(NinError::NotDigits)?;
        }
        // `to_digit(10)` accepts only '0'..='9', so `trimmed` is 11 ASCII bytes from here on.
        if !plausible_date(&digits) {
            return Err(NinError::NotADate);
        }
        let k1 = check_digit(&digits[..9], &WEIGHTS_K1);
        let k2 = check_digit(&digits[..10], &WEIGHTS_K2);
        if k1 != Some(digits[9]) || k2 != Some(digits[10]) {
            return Err(NinError::CheckDigits);
        }
        Ok(Nin(trimmed.to_owned()))
    }

    /// The birth date part and five stars: `148422*****`.
    pub fn masked(&self) -> String {
        let date_part = self.0.get(..6).unwrap_or_default();
        format!("{date_part}*****")
    }

    /// The full 11 digits. Only for comparing with the expected person or sending to NGI; never log it.
    pub fn expose_secret(&self) -> &str {
        &self.0
    }
}

/// The mod-11 check digit for `digits` with `weights`; `None` when the remainder gives 10.
fn check_digit(digits: &[u32], weights: &[u32]) -> Option<u32> {
    let sum: u32 = digits.iter().zip(weights).map(|(d, w)| d * w).sum();
    match 11 - sum % 11 {
        11 => Some(0),
        10 => None,
        k => Some(k),
    }
}

fn plausible_date(digits: &[u32; 11]) -> bool {
    let mut day = digits[0] * 10 + digits[1];
    let mut month = digits[2] * 10 + digits[3];
    let year = digits[4] * 10 + digits[5];
    if day > 40 {
        // D-number.
        day -= 40;
    }
    if month > 80 {
        // Synthetic test person (Skatteetaten's test numbers).
        month -= 80;
    } else if month > 40 {
        // H-number (assigned by health services).
        month -= 40;
    }
    // Year 2000 + YY is a stand-in for the real century: it is a leap year exactly when YY % 4 == 0,
    // which is as much as a plausibility check can say without the individual-number rules.
    let (Ok(year), Ok(month), Ok(day)) = (
        i16::try_from(2000 + year),
        i8::try_from(month),
        i8::try_from(day),
    ) else {
        return false;
    };
    jiff::civil::Date::new(year, month, day).is_ok()
}

impl FromStr for Nin {
    type Err = NinError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Nin::parse(s)
    }
}

impl TryFrom<String> for Nin {
    type Error = NinError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Nin::parse(&value)
    }
}

impl TryFrom<&str> for Nin {
    type Error = NinError;

    fn try_from(value: &str) -> Result<Self, Self::Error> {
        Nin::parse(value)
    }
}

/// Writes the full number: a `Nin` is serialized only into the server-side session. Implemented by
/// hand rather than with `into = "String"` so there is no `From<Nin> for String` to leak it by accident.
impl Serialize for Nin {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl fmt::Debug for Nin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Nin({})", self.masked())
    }
}

impl fmt::Display for Nin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn both_preprod_test_persons_are_valid() {
        assert!(Nin::parse("14842249091").is_ok());
        assert!(Nin::parse("29868099311").is_ok());
    }

    #[test]
    fn the_spec_example_fails_the_check_digits() {
        assert_eq!(Nin::parse("01017012345"), Err(NinError::CheckDigits));
    }

    #[test]
    fn a_changed_digit_fails_the_check_digits() {
        assert_eq!(Nin::parse("14842249092"), Err(NinError::CheckDigits));
        assert_eq!(Nin::parse("14842249191"), Err(NinError::CheckDigits));
    }

    #[test]
    fn a_first_check_digit_of_ten_is_refused() {
        // The weighted sum of 010170007 gives a first check digit of 10: no number starts so.
        for k in 0..=99 {
            let candidate = format!("010170007{k:02}");
            assert!(Nin::parse(&candidate).is_err(), "{k}");
        }
    }

    #[test]
    fn a_number_that_is_too_short_or_too_long_is_refused() {
        assert_eq!(Nin::parse("1484224909"), Err(NinError::WrongLength(10)));
        assert_eq!(Nin::parse("148422490911"), Err(NinError::WrongLength(12)));
        assert_eq!(Nin::parse(""), Err(NinError::WrongLength(0)));
    }

    #[test]
    fn letters_and_inner_spaces_are_refused() {
        assert_eq!(Nin::parse("1484224909a"), Err(NinError::NotDigits));
        assert_eq!(Nin::parse("148422 4909"), Err(NinError::NotDigits));
        assert_eq!(Nin::parse("14842249O91"), Err(NinError::NotDigits));
    }

    #[test]
    fn non_ascii_digits_are_refused() {
        // Arabic-Indic digits are digits, but not ours.
        assert!(Nin::parse("١٤٨٤٢٢٤٩٠٩١").is_err());
    }

    #[test]
    fn surrounding_whitespace_is_trimmed() {
        let nin = Nin::parse("  14842249091\n").unwrap();
        assert_eq!(nin.expose_secret(), "14842249091");
    }

    #[test]
    fn a_d_number_adds_forty_to_the_day() {
        assert!(Nin::parse("41018500033").is_ok());
    }

    #[test]
    fn an_h_number_adds_forty_to_the_month() {
        assert!(Nin::parse("01418500022").is_ok());
    }

    #[test]
    fn an_impossible_date_is_refused_even_with_good_check_digits() {
        // 31 April, check digits correct.
        assert_eq!(Nin::parse("31048500032"), Err(NinError::NotADate));
        // 29 February in a year that is never a leap year.
        assert_eq!(Nin::parse("29029900076"), Err(NinError::NotADate));
        // 29 February 2000.
        assert!(Nin::parse("29020000064").is_ok());
    }

    #[test]
    fn masked_shows_the_first_six_digits_and_five_stars() {
        let nin = Nin::parse("14842249091").unwrap();
        assert_eq!(nin.masked(), "148422*****");
    }

    #[test]
    fn debug_and_display_never_contain_the_full_number() {
        let nin = Nin::parse("14842249091").unwrap();
        let debug = format!("{nin:?}");
        let display = format!("{nin}");
        let pretty = format!("{:#?}", Some(&nin));
        for shown in [&debug, &display, &pretty] {
            assert!(!shown.contains("14842249091"), "{shown}");
            assert!(!shown.contains("49091"), "{shown}");
            assert!(shown.contains("148422*****"), "{shown}");
        }
    }

    #[test]
    fn errors_do_not_repeat_the_number() {
        let error = Nin::parse("14842249092").unwrap_err();
        assert!(!error.to_string().contains("1484224909"));
    }

    #[test]
    fn serde_keeps_the_full_number_and_parses_it_back() {
        let nin = Nin::parse("29868099311").unwrap();
        let json = serde_json::to_string(&nin).unwrap();
        assert_eq!(json, "\"29868099311\"");
        assert_eq!(serde_json::from_str::<Nin>(&json).unwrap(), nin);
    }

    #[test]
    fn deserializing_an_invalid_number_fails() {
        assert!(serde_json::from_str::<Nin>("\"01017012345\"").is_err());
    }
}
