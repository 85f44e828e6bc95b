//! Norwegian national identity numbers (fødselsnummer), as far as the simulator needs them: the
//! mod-11 check, in both the series issued before 2032 and the one issued from 1 January 2032.

use std::fmt;

/// An 11-digit national identity number whose two mod-11 check digits are right.
///
/// `Debug` masks the individual number so a stray `{:?}` never prints a whole number.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Nin(String);

/// Weights over the first ten digits (the first check digit weighs 1).
const WEIGHTS_K1: [u32; 10] = [3, 7, 6, 1, 8, 9, 4, 5, 2, 1];
/// Weights over all eleven digits (the second check digit weighs 1).
const WEIGHTS_K2: [u32; 11] = [5, 4, 3, 2, 7, 6, 5, 4, 3, 2, 1];
/// What the first weighted sum may leave: 0 before 2032, 0 to 3 from 2032 (Skatteetaten's "Nytt
/// fødselsnummer fra 2032"). Both series stay valid side by side. Gender is never read from a number.
const K1_REMAINDERS: [u32; 4] = [0, 1, 2, 3];

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
        let weighted =
            |weights: &[u32]| -> u32 { digits.iter().zip(weights).map(|(d, w)| d * w).sum() };
        let valid = K1_REMAINDERS.contains(&(weighted(&WEIGHTS_K1) % 11))
            && weighted(&WEIGHTS_K2) % 11 == 0;
        valid.then_some(Nin(compact))
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

    /// Nine digits with the first check digit chosen so the first weighted sum leaves
    /// `remainder`, and the second check digit that fits; `None` when either would be 10.
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

    #[test]
    fn skatteetatens_example_from_2032_is_valid() {
        assert_eq!(complete("301082999", 1).as_deref(), Some("30108299939"));
        assert!(Nin::parse("30108299939").is_some());
    }

    #[test]
    fn a_first_remainder_of_zero_to_three_is_valid_and_above_is_not() {
        for n in 0..300 {
            let first_nine = format!("148422{n:03}");
            for remainder in 0..=10 {
                let Some(number) = complete(&first_nine, remainder) else {
                    continue;
                };
                assert_eq!(Nin::parse(&number).is_some(), remainder <= 3, "{number}");
            }
        }
    }

    #[test]
    fn a_wrong_second_check_digit_is_caught_in_the_new_series() {
        for k2 in 0..=8 {
            assert_eq!(Nin::parse(&format!("3010829993{k2}")), None);
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
