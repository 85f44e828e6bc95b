//! Norwegian national identity numbers (fødselsnummer), as far as the simulator needs them: the mod-11 check.

use std::fmt;

/// An 11-digit national identity number whose two mod-11 check digits are right.
///
/// `Debug` masks the individual number so a stray `{:?}` never prints a whole number.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Nin(String);

const WEIGHTS_K1: [u32; 9] = [3, 7, 6, 1, 8, 9, 4, 5, 2];
const WEIGHTS_K2: [u32; 10] = [5, 4, 3, 2, 7, 6, 5, 4, 3, 2];

impl Nin {
    /// Parses what a person typed. Spaces are ignored (people group digits as "148422 49091").
    pub(crate) fn parse(input: &str) -> Option<Nin> {
        let compact: String = input.chars().filter(|c| *c != ' ').collect();
        let digits: Vec<u32> = compact
            .chars()
            .map(|c| c.to_digit(10))
            .collect::<Option<_>>()?;
        if digits.len() != 11 || !compact.is_ascii() {
            return None;
        }
        let k1 = check_digit(&digits[..9], &WEIGHTS_K1)?;
        let k2 = check_digit(&digits[..10], &WEIGHTS_K2)?;
        (digits[9] == k1 && digits[10] == k2).then_some(Nin(compact))
    }

    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }

    /// Birth date shown, individual number and check digits hidden: `148422 *****`.
    pub(crate) fn masked(&self) -> String {
        format!("{} *****", self.0.get(..6).unwrap_or_default())
    }
}

impl fmt::Debug for Nin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Nin").field(&self.masked()).finish()
    }
}

/// `None` when the remainder makes the check digit 10: no valid number has these first digits.
fn check_digit(digits: &[u32], weights: &[u32]) -> Option<u32> {
    let sum: u32 = digits.iter().zip(weights).map(|(d, w)| d * w).sum();
    match 11 - sum % 11 {
        11 => Some(0),
        10 => None,
        k => Some(k),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn the_two_synthetic_test_persons_are_valid() {
        assert!(Nin::parse("14842249091").is_some());
        assert!(Nin::parse("29868099311").is_some());
    }

    #[test]
    fn the_spec_example_number_fails_the_check() {
        assert_eq!(Nin::parse("01017012345"), None);
    }

    #[test]
    fn a_changed_digit_is_caught() {
        assert_eq!(Nin::parse("14842249092"), None);
        assert_eq!(Nin::parse("14842249081"), None);
        assert_eq!(Nin::parse("24842249091"), None);
    }

    #[test]
    fn wrong_length_and_non_digits_are_refused() {
        assert_eq!(Nin::parse(""), None);
        assert_eq!(Nin::parse("1484224909"), None);
        assert_eq!(Nin::parse("148422490910"), None);
        assert_eq!(Nin::parse("1484224909a"), None);
        assert_eq!(Nin::parse("١٤٨٤٢٢٤٩٠٩١"), None);
    }

    #[test]
    fn a_first_check_digit_of_ten_means_invalid() {
        // Find nine first digits whose first check digit would be 10: no two last digits make them valid.
        let prefix = (0..1000)
            .map(|n| format!("010170{n:03}"))
            .find(|p| {
                let d: Vec<u32> = p.chars().filter_map(|c| c.to_digit(10)).collect();
                check_digit(&d, &WEIGHTS_K1).is_none()
            })
            .unwrap_or_default();
        assert_eq!(prefix.len(), 9);
        for suffix in 0..100 {
            assert_eq!(Nin::parse(&format!("{prefix}{suffix:02}")), None);
        }
    }

    #[test]
    fn spaces_are_ignored_and_the_number_is_masked_in_debug() {
        let nin = Nin::parse(" 148422 49091 ");
        assert_eq!(nin.as_ref().map(Nin::as_str), Some("14842249091"));
        let debug = format!("{nin:?}");
        assert!(!debug.contains("49091"), "{debug}");
        assert!(debug.contains("148422 *****"), "{debug}");
    }
}
