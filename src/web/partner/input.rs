//! Reading what a partner sends, for the partner API and the partner console alike: a listing's
//! filters and cursor, an integrated consent to register, a consent id, a start link's reference.
//! Each refusal names its field, before anything is called; the API turns it into a problem,
//! the console into an error beside the field.

use std::str::FromStr;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jiff::Timestamp;

use crate::consents::register::IntegratedConsent;
use crate::domain::consent::{ConsentId, Status};
use crate::domain::nin::Nin;
use crate::domain::reference::Reference;
use crate::domain::scope::Purpose;
use crate::ledger::{Cursor, ListQuery, RowId};

/// A listing's page size when none is asked for, and the largest.
pub const DEFAULT_LIMIT: u32 = 100;
pub const MAX_LIMIT: u32 = 1000;

/// A field that is not valid, and what it should be. The detail never holds what was sent (an
/// identity number typed into the wrong field stays out of pages and answers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: &'static str,
    pub detail: String,
}

impl FieldError {
    fn new(field: &'static str, detail: impl Into<String>) -> Self {
        Self {
            field,
            detail: detail.into(),
        }
    }
}

/// A listing's parameters as sent, each optional.
#[derive(Debug, Clone, Copy, Default)]
pub struct ListInput<'a> {
    pub status: Option<&'a str>,
    pub reference: Option<&'a str>,
    pub limit: Option<&'a str>,
    pub after: Option<&'a str>,
}

/// The ledger query a listing asks for, read at `now`.
pub fn list_query(input: ListInput<'_>, now: Timestamp) -> Result<ListQuery, FieldError> {
    let status = input
        .status
        .map(|s| {
            Status::from_str(s).map_err(|_| {
                FieldError::new(
                    "status",
                    "one of registering, active, used, revoking, revoked, ended_at_ngi, refused, expired",
                )
            })
        })
        .transpose()?;
    let reference = input
        .reference
        .map(|r| {
            Reference::parse(r)
                .map(|r| r.as_str().to_owned())
                .map_err(|e| FieldError::new("reference", e.to_string()))
        })
        .transpose()?;
    let limit = match input.limit {
        None => DEFAULT_LIMIT,
        Some(limit) => limit
            .parse::<u32>()
            .ok()
            .filter(|l| (1..=MAX_LIMIT).contains(l))
            .ok_or_else(|| {
                FieldError::new("limit", format!("a whole number from 1 to {MAX_LIMIT}"))
            })?,
    };
    let after = input
        .after
        .map(|a| {
            decode_cursor(a)
                .ok_or_else(|| FieldError::new("after", "not a `next` value this API gave"))
        })
        .transpose()?;
    Ok(ListQuery {
        status,
        now,
        reference,
        limit,
        after,
    })
}

/// An integrated consent to register; a reference is made (a UUID) when none is given.
pub fn integrated_consent(
    nin: &str,
    purpose: &str,
    duration_days: i64,
    reference: Option<&str>,
) -> Result<IntegratedConsent, FieldError> {
    let nin = Nin::parse(nin).map_err(|e| FieldError::new("nin", e.to_string()))?;
    let purpose = match purpose {
        "presentation" => Purpose::Presentation,
        "processing" => Purpose::Processing,
        _ => {
            return Err(FieldError::new("purpose", "`presentation` or `processing`"));
        }
    };
    let made;
    let reference = match reference {
        Some(r) => r,
        None => {
            made = uuid::Uuid::new_v4().to_string();
            &made
        }
    };
    let reference =
        Reference::parse(reference).map_err(|e| FieldError::new("reference", e.to_string()))?;
    IntegratedConsent::new(nin, purpose, duration_days, reference)
        .map_err(|e| FieldError::new("duration_days", e.to_string()))
}

/// NGI's consent id, as a path names it.
pub fn consent_id(raw: &str) -> Result<ConsentId, FieldError> {
    ConsentId::from_str(raw).map_err(|e| FieldError::new("id", e.to_string()))
}

/// The application reference a start link carries.
pub fn link_reference(raw: &str) -> Result<Reference, FieldError> {
    Reference::parse_for_link(raw).map_err(|e| FieldError::new("reference", e.to_string()))
}

/// The opaque `next`: the last row's creation second and row id, base64url.
pub fn encode_cursor(cursor: Cursor) -> String {
    URL_SAFE_NO_PAD.encode(format!(
        "{}.{}",
        cursor.created_at.as_second(),
        cursor.row.0
    ))
}

pub fn decode_cursor(text: &str) -> Option<Cursor> {
    let bytes = URL_SAFE_NO_PAD.decode(text).ok()?;
    let text = std::str::from_utf8(&bytes).ok()?;
    let (second, row) = text.split_once('.')?;
    Some(Cursor {
        created_at: Timestamp::from_second(second.parse().ok()?).ok()?,
        row: RowId(row.parse().ok()?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_reads_back_and_anything_else_is_refused() {
        let cursor = Cursor {
            created_at: Timestamp::from_second(1_800_000_000).unwrap_or_default(),
            row: RowId(42),
        };
        assert_eq!(decode_cursor(&encode_cursor(cursor)), Some(cursor));
        for bad in ["", "!!", "MTIz", &URL_SAFE_NO_PAD.encode("a.b")] {
            assert_eq!(decode_cursor(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_refused_identity_number_is_not_repeated_in_the_refusal() {
        let refused = integrated_consent("12345678901", "presentation", 30, None)
            .err()
            .unwrap();
        assert_eq!(refused.field, "nin");
        assert!(
            !refused.detail.contains("12345678901"),
            "{}",
            refused.detail
        );
    }

    #[test]
    fn each_registration_field_is_named_when_refused() {
        let ok = "14842249091";
        for (nin, purpose, days, reference, field) in [
            (ok, "marketing", 30, None, "purpose"),
            (ok, "presentation", 0, None, "duration_days"),
            (ok, "processing", 29, None, "duration_days"),
            (ok, "presentation", 30, Some("a b"), "reference"),
        ] {
            let refused = integrated_consent(nin, purpose, days, reference).err();
            assert_eq!(refused.map(|e| e.field), Some(field), "{purpose} {days}");
        }
        assert!(integrated_consent(ok, "presentation", 30, None).is_ok());
    }
}
