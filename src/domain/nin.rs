//! The Norwegian national identity number (fødselsnummer, D-number, H-number, synthetic test number).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize, Serializer};

/// Weights for the first check digit (over digits 1–10, the check digit itself weighing 1).
const WEIGHTS_K1: [u32; 10] = [3, 7, 6, 1, 8, 9, 4, 5, 2, 1];
/// Weights for the second check digit (over digits 1–11, the check digit itself weighing 1).
const WEIGHTS_K2: [u32; 11] = [5, 4, 3, 2, 7, 6, 5, 4, 3, 2, 1];
/// The remainders the first weighted sum may leave: 0 for numbers issued before 2032, 0–3 for
/// those issued from 1 January 2032 (Skatteetaten, "Nytt fødselsnummer fra 2032"). Both series
/// are valid at once, so there is no date switch.
const K1_REMAINDERS: [u32; 4] = [0, 1, 2, 3];

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
    /// (month + 80). Both check-digit series are accepted: the one before 2032 and the one from
    /// 2032 (see [`K1_REMAINDERS`]). Neither the century nor gender is derived from the number
    /// (from 2032 the individual number carries neither); 29 February is accepted when the
    /// two-digit year is divisible by four.
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
        if !check_digits_hold(&digits) {
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

/// Both mod-11 checks: the first weighted sum (check digit included) leaves one of
/// [`K1_REMAINDERS`], the second leaves 0.
fn check_digits_hold(digits: &[u32; 11]) -> bool {
    let weighted =
        |weights: &[u32]| -> u32 { digits.iter().zip(weights).map(|(d, w)| d * w).sum() };
    K1_REMAINDERS.contains(&(weighted(&WEIGHTS_K1) % 11)) && weighted(&WEIGHTS_K2) % 11 == 0
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

/// Every run of six or more digits as stars: a message that quotes a rejected value may hold a
/// national identity number (11 digits), and even its birth-date part is more than a log needs.
pub fn mask_long_numbers(text: &str) -> String {
    const LONG: usize = 6;
    map_digit_runs(text, |run, out| {
        if run.len() >= LONG {
            out.extend(std::iter::repeat_n('*', run.len()));
        } else {
            out.push_str(run);
        }
    })
}

/// Every run of exactly 11 digits that is a valid identity number, masked as
/// [`Nin::masked`] masks it; other digits stay. For text that must stay usable (a partner's
/// reference shown or sent back in a form), where [`mask_long_numbers`] would spoil it.
pub fn mask_identity_numbers(text: &str) -> String {
    map_digit_runs(text, |run, out| match Nin::parse(run) {
        Ok(nin) if run.len() == 11 => out.push_str(&nin.masked()),
        _ => out.push_str(run),
    })
}

/// `text` with each maximal run of ASCII digits written by `write_run` (the rest copied).
fn map_digit_runs(text: &str, write_run: impl Fn(&str, &mut String)) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find(|c: char| c.is_ascii_digit()) {
        out.push_str(&rest[..start]);
        let digits = &rest[start..];
        let end = digits
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(digits.len());
        write_run(&digits[..end], &mut out);
        rest = &digits[end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn only_valid_identity_numbers_are_masked_in_a_reference() {
        assert_eq!(
            mask_identity_numbers("APP-14842249091-2"),
            "APP-148422*****-2"
        );
        assert_eq!(mask_identity_numbers("LOAN-123456"), "LOAN-123456");
        assert_eq!(mask_identity_numbers("12345678901"), "12345678901");
        assert_eq!(mask_identity_numbers(""), "");
    }

    #[test]
    fn long_digit_runs_in_a_text_are_masked_and_short_ones_kept() {
        assert_eq!(
            mask_long_numbers("rejected value [14842249091] for nin, 30 days, 123456"),
            "rejected value [***********] for nin, 30 days, ******"
        );
        assert_eq!(mask_long_numbers("line 1 column 16"), "line 1 column 16");
        assert_eq!(mask_long_numbers("12345"), "12345");
    }

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

    /// Nine digits completed the way the check-digit rules say, with the first check digit chosen
    /// so the first weighted sum leaves `remainder`; `None` when a check digit would be 10.
    fn complete(first_nine: &str, remainder: u32) -> Option<String> {
        let d: Vec<u32> = first_nine
            .chars()
            .map(|c| c.to_digit(10).unwrap())
            .collect();
        let sum1: u32 = d
            .iter()
            .zip([3, 7, 6, 1, 8, 9, 4, 5, 2])
            .map(|(a, w)| a * w)
            .sum();
        let k1 = (remainder + 11 - sum1 % 11) % 11;
        let sum2: u32 = d
            .iter()
            .chain([k1].iter())
            .zip([5, 4, 3, 2, 7, 6, 5, 4, 3, 2])
            .map(|(a, w)| a * w)
            .sum();
        let k2 = (11 - sum2 % 11) % 11;
        (k1 < 10 && k2 < 10).then(|| format!("{first_nine}{k1}{k2}"))
    }

    /// Numbers whose first weighted sum leaves `remainder`, over a range of individual numbers.
    fn numbers_with_remainder(date: &str, remainder: u32) -> Vec<String> {
        (0..200)
            .filter_map(|n| complete(&format!("{date}{n:03}"), remainder))
            .collect()
    }

    #[test]
    fn skatteetatens_example_of_a_number_from_2032_is_valid() {
        // Valid only under the rule from 2032: its first weighted sum leaves 1.
        assert_eq!(complete("301082999", 1).as_deref(), Some("30108299939"));
        assert!(Nin::parse("30108299939").is_ok());
    }

    #[test]
    fn numbers_of_both_series_are_valid() {
        for date in ["010170", "148422", "418500"] {
            for remainder in 0..=3 {
                let numbers = numbers_with_remainder(date, remainder);
                assert!(numbers.len() > 100, "{date} {remainder}");
                for number in numbers {
                    assert_eq!(Nin::parse(&number).map(|_| ()), Ok(()), "{number}");
                }
            }
        }
    }

    #[test]
    fn a_first_remainder_above_three_is_refused() {
        for date in ["010170", "148422", "418500"] {
            for remainder in 4..=10 {
                let numbers = numbers_with_remainder(date, remainder);
                assert!(numbers.len() > 100, "{date} {remainder}");
                for number in numbers {
                    assert_eq!(Nin::parse(&number), Err(NinError::CheckDigits), "{number}");
                }
            }
        }
    }

    #[test]
    fn a_wrong_second_check_digit_is_refused_in_the_new_series_too() {
        let number = "30108299939";
        for k2 in (0..=9).filter(|k| *k != 9) {
            let changed = format!("{}{k2}", &number[..10]);
            assert_eq!(
                Nin::parse(&changed),
                Err(NinError::CheckDigits),
                "{changed}"
            );
        }
    }

    #[test]
    fn first_digits_that_had_no_valid_number_before_2032_have_some_now() {
        // 010170007 leaves remainder 1 with a first check digit of 0: before 2032 no number began
        // so (the check digit would have been 10); from 2032 the first check digit may be 0, 1 or
        // 2 (remainders 1 to 3), where the second check digit does not come out as 10.
        let valid: Vec<String> = (0..=99)
            .map(|k| format!("010170007{k:02}"))
            .filter(|n| Nin::parse(n).is_ok())
            .collect();
        assert!(!valid.is_empty());
        assert!(
            valid.iter().all(|n| ["0", "1", "2"].contains(&&n[9..10])),
            "{valid:?}"
        );
        let expected: Vec<String> = (1..=3).filter_map(|r| complete("010170007", r)).collect();
        assert_eq!(valid, expected);
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
