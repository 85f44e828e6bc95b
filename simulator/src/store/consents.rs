//! A consent's life in the simulator after it is granted: a client reading and revoking its own,
//! a person withdrawing theirs at Min gjeld, expiry noticed, and the test hooks that grant,
//! publish late or act as a hidden second client. Each change is published to the feed.

use jiff::Timestamp;

use super::*;

impl Store {
    /// The consent `id`, if `client_id` holds it (another client's is as unknown to it).
    pub(crate) fn client_consent(&mut self, id: &str, client_id: &str) -> Option<&mut Consent> {
        self.consents
            .get_mut(id)
            .filter(|c| c.client_id == client_id)
    }

    /// `DELETE /v1/debt/{id}` by the client holding an active consent: it ends, and the feed says so.
    pub(crate) fn revoke_consent(&mut self, id: &str, now: Timestamp) {
        if let Some(consent) = self.consents.get_mut(id) {
            consent.revoked = true;
        }
        self.archive(id, now, now);
    }

    /// The person's consents, newest first (Min gjeld).
    pub(crate) fn consents_of(&self, nin: &Nin) -> Vec<Consent> {
        let mut consents: Vec<Consent> = self
            .consents
            .values()
            .filter(|c| &c.nin == nin)
            .cloned()
            .collect();
        consents.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(a.id.cmp(&b.id)));
        consents
    }

    /// The person withdraws consent `id` at Min gjeld: it ends, and the feed says so.
    pub(crate) fn revoke_by_person(
        &mut self,
        id: &str,
        nin: &Nin,
        now: Timestamp,
    ) -> Result<(), PersonRevokeError> {
        let consent = self
            .consents
            .get_mut(id)
            .filter(|c| &c.nin == nin)
            .ok_or(PersonRevokeError::Unknown)?;
        if !consent.is_active(now) {
            return Err(PersonRevokeError::Ended);
        }
        consent.revoked = true;
        self.archive(id, now, now);
        Ok(())
    }

    /// Publishes `SAMTYKKE_ARKIVERT` for every consent that has expired and not yet been
    /// archived (an unused single-use consent included), stamped with the moment it expired:
    /// NGI notices an expiry some time after it happened.
    pub(crate) fn notice_expired(&mut self, now: Timestamp) {
        let mut expired: Vec<(Timestamp, String)> = self
            .consents
            .values()
            .filter(|c| !c.archived && now >= c.expires_at)
            .map(|c| (c.expires_at, c.id.clone()))
            .collect();
        expired.sort();
        for (expired_at, id) in expired {
            self.archive(&id, expired_at, now);
        }
    }

    /// Publishes `SAMTYKKE_ARKIVERT` for consent `id` once; later calls do nothing.
    pub(super) fn archive(&mut self, id: &str, happened_at: Timestamp, now: Timestamp) {
        let Some(consent) = self.consents.get_mut(id).filter(|c| !c.archived) else {
            return;
        };
        consent.archived = true;
        let kind = EventKind::Archived {
            block_consent_id: consent.external_id.clone(),
        };
        let client_id = consent.client_id.clone();
        self.feed.publish(&client_id, id, kind, happened_at, now);
    }

    pub(super) fn publish_created(&mut self, consent: &Consent, now: Timestamp) {
        let kind = EventKind::Created {
            scope: consent.purpose.base_scope().to_owned(),
            external_consent_id: Some(consent.external_id.clone()),
        };
        self.feed.publish(
            &consent.client_id,
            &consent.id,
            kind,
            consent.created_at,
            now,
        );
    }

    /// The hidden client is given a consent (one `SAMTYKKE_OPPRETTET` under the next number).
    /// Returns that consent's id.
    pub(crate) fn hidden_client_acts(&mut self, now: Timestamp) -> Option<String> {
        let nin = Nin::parse(HIDDEN_CLIENT_PERSON)?;
        let hours = SignedDuration::from_hours(24);
        Some(self.created_without_flow(HIDDEN_CLIENT_ID, nin, Purpose::Processing, hours, now))
    }

    /// `client_id` is given a consent by [`GRANTED_PERSON`] for `days` days, without a browser
    /// flow: one `SAMTYKKE_OPPRETTET` under the next number, as if the person had accepted on
    /// the consent page. Returns the consent's id.
    pub(crate) fn grant(&mut self, client_id: &str, days: u16, now: Timestamp) -> Option<String> {
        let nin = Nin::parse(GRANTED_PERSON)?;
        let lasts = SignedDuration::from_hours(24 * i64::from(days));
        Some(self.created_without_flow(client_id, nin, Purpose::Presentation, lasts, now))
    }

    /// A lasting consent made and published as created, without a browser flow: its id.
    fn created_without_flow(
        &mut self,
        client_id: &str,
        nin: Nin,
        purpose: Purpose,
        lasts: SignedDuration,
        now: Timestamp,
    ) -> String {
        let consent = Consent {
            id: random::uuid(),
            client_id: client_id.to_owned(),
            nin,
            purpose,
            single_use: false,
            used: false,
            revoked: false,
            created_at: now,
            expires_at: later(now, lasts),
            external_id: random::uuid(),
            archived: false,
        };
        self.make_room_for_consent(now);
        self.publish_created(&consent, now);
        let id = consent.id.clone();
        self.consents.insert(id.clone(), consent);
        id
    }

    /// Publishes an event for consent `id` now, stamped `happened_at` (earlier, as an event NGI
    /// publishes late): a repeated creation, or an archiving. Only the feed changes; the consent
    /// itself stays as it is. `None` for an unknown consent.
    pub(crate) fn publish_late(
        &mut self,
        id: &str,
        archived: bool,
        happened_at: Timestamp,
        now: Timestamp,
    ) -> Option<i64> {
        let consent = self.consents.get(id)?;
        let kind = if archived {
            EventKind::Archived {
                block_consent_id: consent.external_id.clone(),
            }
        } else {
            EventKind::Created {
                scope: consent.purpose.base_scope().to_owned(),
                external_consent_id: Some(consent.external_id.clone()),
            }
        };
        let client_id = consent.client_id.clone();
        Some(self.feed.publish(&client_id, id, kind, happened_at, now))
    }
}
