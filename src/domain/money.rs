//! Amounts in Norwegian kroner and interest rates, as whole numbers, formatted for nb-NO.
//!
//! NGI sends amounts as NOK × 100 (øre) and rates as percent × 100 (basis points); both are kept
//! as `i64` so no value ever passes through a float. Formatting goes through `icu_decimal` with the
//! `nb` locale: CLDR gives the digit grouping (U+00A0 NO-BREAK SPACE), the decimal comma and the
//! minus sign (U+2212). Only the unit is appended here, after another U+00A0 so a value never wraps.

use std::fmt;
use std::iter::Sum;
use std::ops::{Add, AddAssign};

use icu_decimal::DecimalFormatter;
use icu_decimal::input::Decimal;
use icu_locale_core::locale;
use serde::{Deserialize, Serialize};

/// The no-break space put between a number and its unit.
const NBSP: char = '\u{a0}';

thread_local! {
    /// Built once per thread: `DecimalFormatter` is not `Sync` (icu_provider without its `sync`
    /// feature), and building it per value would be waste. `None` only if the compiled data lacked
    /// `nb`, which cannot happen with `icu_decimal`'s baked data; the formatting below then falls
    /// back to the plain decimal rather than failing a page.
    static NB_FORMATTER: Option<DecimalFormatter> =
        DecimalFormatter::try_new(locale!("nb").into(), Default::default()).ok();
}

/// Writes `hundredths / 100` with exactly two decimals in nb-NO, followed by NBSP and `unit`.
fn write_hundredths(f: &mut fmt::Formatter<'_>, hundredths: i64, unit: &str) -> fmt::Result {
    let mut decimal = Decimal::from(hundredths);
    decimal.multiply_pow10(-2);
    // Keep both decimals even when they are zero: `100,00 kr`, not `100 kr`.
    decimal.pad_end(-2);
    NB_FORMATTER.with(|formatter| match formatter {
        Some(formatter) => write!(f, "{}{NBSP}{unit}", formatter.format(&decimal)),
        None => write!(f, "{decimal}{NBSP}{unit}"),
    })
}

/// An amount in Norwegian kroner, held as a whole number of øre (NOK × 100).
///
/// Arithmetic with `+` and [`Sum`] **saturates** at `i64::MIN`/`i64::MAX` øre (about ±92 million
/// billion kroner): a total shown to a person must never panic or wrap, and no real debt comes
/// anywhere near the bound. Use [`Nok::checked_add`] where an overflow must be noticed.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Nok(i64);

impl Nok {
    /// Zero kroner.
    pub const ZERO: Nok = Nok(0);

    /// An amount from øre (NOK × 100), the unit NGI uses: `10000` is 100 kr.
    pub const fn from_ore(ore: i64) -> Self {
        Nok(ore)
    }

    /// The amount in øre (NOK × 100).
    pub const fn ore(self) -> i64 {
        self.0
    }

    /// The sum, or `None` if it does not fit in an `i64` of øre.
    pub const fn checked_add(self, other: Nok) -> Option<Nok> {
        match self.0.checked_add(other.0) {
            Some(ore) => Some(Nok(ore)),
            None => None,
        }
    }

    /// The sum, held at the bound if it overflows (what `+` does).
    pub const fn saturating_add(self, other: Nok) -> Nok {
        Nok(self.0.saturating_add(other.0))
    }

    /// Whether the amount is below zero.
    pub const fn is_negative(self) -> bool {
        self.0 < 0
    }
}

/// Saturating; see [`Nok`].
impl Add for Nok {
    type Output = Nok;

    fn add(self, other: Nok) -> Nok {
        self.saturating_add(other)
    }
}

/// Saturating; see [`Nok`].
impl AddAssign for Nok {
    fn add_assign(&mut self, other: Nok) {
        *self = self.saturating_add(other);
    }
}

/// Saturating; see [`Nok`].
impl Sum for Nok {
    fn sum<I: Iterator<Item = Nok>>(iter: I) -> Nok {
        iter.fold(Nok::ZERO, Nok::saturating_add)
    }
}

/// Saturating; see [`Nok`].
impl<'a> Sum<&'a Nok> for Nok {
    fn sum<I: Iterator<Item = &'a Nok>>(iter: I) -> Nok {
        iter.copied().sum()
    }
}

/// nb-NO, always two decimals: `12 345,67 kr` (the spaces are U+00A0), `−1,50 kr`.
impl fmt::Display for Nok {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_hundredths(f, self.0, "kr")
    }
}

/// An interest rate, held as percent × 100 (basis points), the unit NGI uses: `1020` is 10.20 %.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Rate(i64);

impl Rate {
    /// A rate from percent × 100: `1020` is 10.20 %.
    pub const fn from_basis_points(basis_points: i64) -> Self {
        Rate(basis_points)
    }

    /// The rate as percent × 100.
    pub const fn basis_points(self) -> i64 {
        self.0
    }
}

/// nb-NO, always two decimals: `10,20 %` (the space is U+00A0).
impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_hundredths(f, self.0, "%")
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn zero_kroner_shows_two_decimals() {
        assert_eq!(Nok::ZERO.to_string(), "0,00\u{a0}kr");
    }

    #[test]
    fn one_ore_is_one_hundredth_of_a_krone() {
        assert_eq!(Nok::from_ore(1).to_string(), "0,01\u{a0}kr");
    }

    #[test]
    fn one_hundred_kroner_keeps_its_zero_decimals() {
        assert_eq!(Nok::from_ore(10000).to_string(), "100,00\u{a0}kr");
    }

    #[test]
    fn thousands_are_grouped_with_a_no_break_space_and_decimals_use_a_comma() {
        assert_eq!(
            Nok::from_ore(1_234_567).to_string(),
            "12\u{a0}345,67\u{a0}kr"
        );
    }

    #[test]
    fn millions_have_two_group_separators() {
        assert_eq!(
            Nok::from_ore(12_345_678_900).to_string(),
            "123\u{a0}456\u{a0}789,00\u{a0}kr"
        );
    }

    #[test]
    fn four_digit_amounts_are_grouped_too() {
        assert_eq!(Nok::from_ore(123_400).to_string(), "1\u{a0}234,00\u{a0}kr");
    }

    #[test]
    fn negative_amounts_use_the_locale_minus_sign() {
        assert_eq!(
            Nok::from_ore(-123_456).to_string(),
            "\u{2212}1\u{a0}234,56\u{a0}kr"
        );
    }

    #[test]
    fn the_formatted_amount_contains_no_breaking_space() {
        let shown = Nok::from_ore(987_654_321).to_string();
        assert!(!shown.contains(' '), "{shown:?}");
    }

    #[test]
    fn addition_and_sum_add_ore_and_saturate_at_the_bound() {
        assert_eq!(Nok::from_ore(150) + Nok::from_ore(250), Nok::from_ore(400));
        let total: Nok = [Nok::from_ore(1), Nok::from_ore(2), Nok::from_ore(3)]
            .iter()
            .sum();
        assert_eq!(total, Nok::from_ore(6));
        assert_eq!(
            Nok::from_ore(i64::MAX) + Nok::from_ore(1),
            Nok::from_ore(i64::MAX)
        );
        let mut running = Nok::from_ore(i64::MIN);
        running += Nok::from_ore(-1);
        assert_eq!(running, Nok::from_ore(i64::MIN));
    }

    #[test]
    fn checked_add_reports_an_overflow() {
        assert_eq!(Nok::from_ore(i64::MAX).checked_add(Nok::from_ore(1)), None);
        assert_eq!(
            Nok::from_ore(1).checked_add(Nok::from_ore(2)),
            Some(Nok::from_ore(3))
        );
    }

    #[test]
    fn nok_serializes_as_a_plain_number_of_ore() {
        assert_eq!(
            serde_json::to_string(&Nok::from_ore(10000)).unwrap(),
            "10000"
        );
        assert_eq!(
            serde_json::from_str::<Nok>("-5").unwrap(),
            Nok::from_ore(-5)
        );
    }

    #[test]
    fn a_rate_of_1020_shows_as_ten_point_two_percent() {
        assert_eq!(Rate::from_basis_points(1020).to_string(), "10,20\u{a0}%");
    }

    #[test]
    fn a_rate_of_5_shows_as_five_hundredths_of_a_percent() {
        assert_eq!(Rate::from_basis_points(5).to_string(), "0,05\u{a0}%");
    }

    #[test]
    fn a_rate_of_zero_shows_two_decimals() {
        assert_eq!(Rate::from_basis_points(0).to_string(), "0,00\u{a0}%");
    }
}
