//! Integrated consent: a consent the partner collected itself, registered at NGI
//! (`PUT /v1/consent/agreement`) and recorded in the ledger.
//!
//! The row is committed as `registering` before NGI is asked, so a crash or a lost answer leaves
//! a trace, never a consent NGI holds that the ledger does not know. NGI treats the same body as
//! the same consent, so a registration that did not get NGI's answer is finished by sending the
//! same request again. To know "the same request" without keeping the identity number, the row
//! holds a keyed digest of everything sent. The key is derived from NGI's client secret, which
//! only this site holds — not from the partner token, which the partner's own systems hold too:
//! with the masked number's six digits known, three digits are left to guess, so whoever has
//! the key and a copy of the database has the numbers. It is never stored.

use std::sync::Arc;

use hmac::Mac;
use jiff::Timestamp;

use crate::domain::consent::Status;
use crate::domain::nin::Nin;
use crate::domain::reference::Reference;
use crate::domain::scope::Purpose;
use crate::keyed::{hmac_of, new_mac};
use crate::ledger::{Begun, Consent, Ledger, LedgerError, Registration, Transition};
use crate::ngi::agreement::{AgreementError, AgreementRequest, Agreements};

/// The label the digest key is derived with: a key made here is no use anywhere the client
/// secret itself is.
const KEY_LABEL: &[u8] = b"ngi-consent integrated consent digest key v1";

/// What the history says when NGI confirmed a registration.
pub const REGISTERED: &str = "registered at NGI";

/// A registration request that passed every check of its own: a valid identity number, a
/// duration NGI allows for the purpose, a reference of the allowed shape.
#[derive(Clone, PartialEq, Eq)]
pub struct IntegratedConsent {
    pub nin: Nin,
    pub purpose: Purpose,
    duration_days: u16,
    pub reference: Reference,
}

impl std::fmt::Debug for IntegratedConsent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IntegratedConsent")
            .field("nin", &self.nin.masked())
            .field("purpose", &self.purpose)
            .field("duration_days", &self.duration_days)
            .field("reference", &self.reference)
            .finish()
    }
}

/// A duration NGI does not allow for the purpose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("duration_days must be 1 to {max} for this purpose")]
pub struct BadDuration {
    pub max: u16,
}

impl IntegratedConsent {
    /// Refuses a duration outside 1–365 days (presentation) or 1–28 (processing).
    pub fn new(
        nin: Nin,
        purpose: Purpose,
        duration_days: i64,
        reference: Reference,
    ) -> Result<Self, BadDuration> {
        let max = purpose.max_days();
        let duration_days = u16::try_from(duration_days)
            .ok()
            .filter(|days| (1..=max).contains(days))
            .ok_or(BadDuration { max })?;
        Ok(Self {
            nin,
            purpose,
            duration_days,
            reference,
        })
    }

    pub fn duration_days(&self) -> u16 {
        self.duration_days
    }
}

/// The key of the registration digest, derived from NGI's client secret (stable across restarts
/// and partner-token changes; a new client secret makes a registration still `registering` a
/// 409 on its retry, which the log and the ledger row explain).
#[derive(Clone)]
pub struct DigestKey([u8; 32]);

impl std::fmt::Debug for DigestKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DigestKey([redacted])")
    }
}

impl DigestKey {
    pub fn derive(client_secret: &oauth2::ClientSecret) -> Self {
        Self(hmac_of(client_secret.secret().as_bytes(), &[KEY_LABEL]))
    }

    /// HMAC-SHA256 over every field sent to NGI, each length-prefixed so no two requests share
    /// an encoding; hex.
    fn digest(&self, consent: &IntegratedConsent) -> String {
        let mut mac = new_mac(&self.0);
        let days = consent.duration_days.to_string();
        for part in [
            consent.nin.expose_secret(),
            consent.purpose.base_scope(),
            days.as_str(),
            consent.reference.as_str(),
        ] {
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part.as_bytes());
        }
        mac.finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

/// A registration that went through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Registered {
    /// Registered now.
    Created(Consent),
    /// The same request as before: the consent as it stands (which may be `refused`).
    Same(Consent),
}

impl Registered {
    pub fn consent(&self) -> &Consent {
        match self {
            Registered::Created(c) | Registered::Same(c) => c,
        }
    }
}

/// Why a registration did not go through.
#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    /// The reference is in the ledger with other data: NGI was not asked.
    #[error("the reference is registered with other data")]
    ReferenceTaken(Box<Consent>),
    /// NGI holds the reference with other data (its 409); the row is `refused`.
    #[error("NGI holds the reference with other data")]
    ConflictAtNgi {
        consent: Box<Consent>,
        message: String,
        request_id: Option<String>,
    },
    /// NGI refused the consent (its 400 or 403); the row is `refused`.
    #[error("NGI refused the consent")]
    RefusedByNgi {
        consent: Box<Consent>,
        status: u16,
        error: String,
        message: String,
        request_id: Option<String>,
    },
    /// NGI could not be asked or did not answer: the row stays `registering`, and the same
    /// request again finishes it.
    #[error("NGI could not register the consent now")]
    Pending {
        consent: Box<Consent>,
        #[source]
        source: AgreementError,
    },
    /// Our client could not be authorised at NGI, or NGI answered what the spec does not list:
    /// a setting to fix, not the request; the row stays `registering`.
    #[error("the registration failed on our side of NGI")]
    Failed {
        consent: Box<Consent>,
        #[source]
        source: AgreementError,
    },
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}

/// Registers integrated consents: the ledger first, then NGI.
#[derive(Debug)]
pub struct Registrations {
    ledger: Ledger,
    agreements: Arc<Agreements>,
    key: DigestKey,
}

impl Registrations {
    pub fn new(ledger: Ledger, agreements: Arc<Agreements>, key: DigestKey) -> Self {
        Self {
            ledger,
            agreements,
            key,
        }
    }

    /// Registers `consent`: a new `registering` row, then NGI; the same request again answers
    /// with the consent as it stands (and asks NGI again while it is still `registering`).
    pub async fn register(
        &self,
        consent: &IntegratedConsent,
        now: Timestamp,
        trace_id: &str,
    ) -> Result<Registered, RegisterError> {
        let begun = self
            .ledger
            .begin_registration(
                Registration {
                    reference: consent.reference.as_str().to_owned(),
                    purpose: consent.purpose,
                    duration_days: consent.duration_days,
                    nin_masked: consent.nin.masked(),
                    request_digest: self.key.digest(consent),
                },
                now,
            )
            .await?;
        let (row, again) = match begun {
            Begun::New(row) => (row, false),
            Begun::Conflict(row) => return Err(RegisterError::ReferenceTaken(Box::new(row))),
            Begun::Same(row) if row.status != Status::Registering => {
                return Ok(Registered::Same(row));
            }
            Begun::Same(row) => (row, true),
        };
        let request = AgreementRequest {
            nin: consent.nin.clone(),
            purpose: consent.purpose,
            duration_days: consent.duration_days,
            client_consent_id: consent.reference.as_str().to_owned(),
        };
        match self.agreements.register(&request, trace_id).await {
            Ok(registered) => {
                let row = self
                    .move_to(
                        &row,
                        Transition {
                            to: Status::Active,
                            reason: REGISTERED.to_owned(),
                            id: Some(registered.consent_id),
                            expires_at: registered.expires_at,
                        },
                        now,
                    )
                    .await?;
                Ok(if again {
                    Registered::Same(row)
                } else {
                    Registered::Created(row)
                })
            }
            Err(AgreementError::Conflict {
                message,
                request_id,
            }) => {
                let reason = refusal_reason("409", &message, request_id.as_deref());
                let row = self.refuse(&row, reason, now).await?;
                Err(RegisterError::ConflictAtNgi {
                    consent: Box::new(row),
                    message,
                    request_id,
                })
            }
            Err(AgreementError::Refused {
                status,
                error,
                message,
                request_id,
            }) => {
                let reason = refusal_reason(&error, &message, request_id.as_deref());
                let row = self.refuse(&row, reason, now).await?;
                Err(RegisterError::RefusedByNgi {
                    consent: Box::new(row),
                    status,
                    error,
                    message,
                    request_id,
                })
            }
            Err(source) if source.is_retryable() => Err(RegisterError::Pending {
                consent: Box::new(row),
                source,
            }),
            Err(source) => Err(RegisterError::Failed {
                consent: Box::new(row),
                source,
            }),
        }
    }

    async fn refuse(
        &self,
        row: &Consent,
        reason: String,
        now: Timestamp,
    ) -> Result<Consent, LedgerError> {
        self.move_to(
            row,
            Transition {
                to: Status::Refused,
                reason,
                id: None,
                expires_at: None,
            },
            now,
        )
        .await
    }

    async fn move_to(
        &self,
        row: &Consent,
        change: Transition,
        now: Timestamp,
    ) -> Result<Consent, LedgerError> {
        self.ledger.transition(row.row, change, now).await
    }
}

/// The history reason of a refusal, in NGI's words (already cut and cleaned by the NGI client).
fn refusal_reason(error: &str, message: &str, request_id: Option<&str>) -> String {
    match request_id {
        Some(id) => format!("NGI refused ({error}): {message} [requestId {id}]"),
        None => format!("NGI refused ({error}): {message}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nin(raw: &str) -> Nin {
        Nin::parse(raw).unwrap_or_else(|e| unreachable!("{e}"))
    }

    fn reference(raw: &str) -> Reference {
        Reference::parse(raw).unwrap_or_else(|e| unreachable!("{e}"))
    }

    fn consent(days: i64, purpose: Purpose, person: &str, r: &str) -> IntegratedConsent {
        IntegratedConsent::new(nin(person), purpose, days, reference(r))
            .unwrap_or_else(|e| unreachable!("{e}"))
    }

    #[test]
    fn a_duration_outside_what_ngi_allows_for_the_purpose_is_refused() {
        let person = nin("14842249091");
        let r = reference("APP-1");
        for (purpose, days) in [
            (Purpose::Presentation, 0),
            (Purpose::Presentation, 366),
            (Purpose::Processing, 29),
            (Purpose::Processing, -1),
            (Purpose::Processing, i64::from(u16::MAX) + 1),
        ] {
            assert!(
                IntegratedConsent::new(person.clone(), purpose, days, r.clone()).is_err(),
                "{purpose:?} {days}"
            );
        }
        for (purpose, days) in [
            (Purpose::Presentation, 1),
            (Purpose::Presentation, 365),
            (Purpose::Processing, 28),
        ] {
            assert!(IntegratedConsent::new(person.clone(), purpose, days, r.clone()).is_ok());
        }
    }

    #[test]
    fn the_digest_tells_the_same_request_from_any_other_and_hides_the_number() {
        let key = DigestKey([7; 32]);
        let base = consent(30, Purpose::Presentation, "14842249091", "APP-1");
        let digest = key.digest(&base);
        assert_eq!(digest, key.digest(&base.clone()));
        assert_eq!(digest.len(), 64);
        assert!(!digest.contains("14842249091"));
        for other in [
            consent(31, Purpose::Presentation, "14842249091", "APP-1"),
            consent(28, Purpose::Processing, "14842249091", "APP-1"),
            consent(30, Purpose::Presentation, "29868099311", "APP-1"),
            consent(30, Purpose::Presentation, "14842249091", "APP-2"),
        ] {
            assert_ne!(key.digest(&other), digest, "{other:?}");
        }
        assert_ne!(DigestKey([8; 32]).digest(&base), digest);
    }

    #[test]
    fn debug_output_shows_the_number_masked_and_no_key() {
        let shown = format!(
            "{:?} {:?}",
            consent(30, Purpose::Presentation, "14842249091", "APP-1"),
            DigestKey([7; 32])
        );
        assert!(!shown.contains("14842249091"), "{shown}");
        assert!(shown.contains("148422*****"), "{shown}");
        assert!(!shown.contains("7, 7"), "{shown}");
    }
}
