use jiff::{SignedDuration, Timestamp};

use super::*;
use crate::domain::consent::Source;
use crate::domain::scope::Purpose;
use crate::ledger::{Change, RowId};

fn at(second: i64) -> Timestamp {
    Timestamp::from_second(1_800_000_000 + second).unwrap()
}

fn row(status: Status, duration_days: Option<u16>, expires_at: Option<Timestamp>) -> Consent {
    Consent {
        row: RowId(7),
        id: Some("c0ffee00-0000-4000-8000-000000000001".parse().unwrap()),
        reference: None,
        source: Source::Redirect,
        purpose: Purpose::Presentation,
        duration_days,
        expires_at,
        nin_masked: "010190*****".into(),
        status,
        created_at: at(0),
        updated_at: at(0),
        history: vec![],
    }
}

fn active() -> ConsentStatus {
    ConsentStatus::Active { expires_at: None }
}

fn inactive(expires_at: Option<Timestamp>) -> ConsentStatus {
    ConsentStatus::Inactive { expires_at }
}

#[test]
fn the_first_retry_waits_thirty_seconds_and_the_waits_double_up_to_an_hour() {
    assert_eq!(
        retry_delay(at(0), at(0), 0.0),
        SignedDuration::from_secs(30)
    );
    assert_eq!(
        retry_delay(at(0), at(30), 0.0),
        SignedDuration::from_secs(30)
    );
    assert_eq!(
        retry_delay(at(0), at(60), 0.0),
        SignedDuration::from_secs(60)
    );
    assert_eq!(
        retry_delay(at(0), at(120), 0.0),
        SignedDuration::from_secs(120)
    );
    assert_eq!(retry_delay(at(0), at(86_400), 0.0), RETRY_MAX);
}

#[test]
fn jitter_adds_at_most_a_fifth_and_never_shortens_the_wait() {
    let plain = retry_delay(at(0), at(600), 0.0);
    let most = retry_delay(at(0), at(600), 1.0);
    assert_eq!(most, SignedDuration::from_secs(720));
    let some = retry_delay(at(0), at(600), 0.5);
    assert!(plain < some && some < most, "{plain} {some} {most}");
    assert_eq!(retry_delay(at(0), at(600), 7.0), most);
    assert_eq!(retry_delay(at(0), at(600), -1.0), plain);
}

#[test]
fn an_active_consent_ngi_calls_inactive_has_ended_at_ngi() {
    let expiry = Some(at(1_000));
    assert_eq!(
        after_status(Status::Active, expiry, &inactive(None), at(10)),
        Status::EndedAtNgi
    );
    assert_eq!(
        after_status(Status::Revoking, expiry, &inactive(None), at(10)),
        Status::EndedAtNgi
    );
}

#[test]
fn an_inactive_consent_past_its_expiry_has_expired() {
    assert_eq!(
        after_status(Status::Active, Some(at(5)), &inactive(None), at(10)),
        Status::Expired
    );
    // NGI's expiry wins over ours.
    assert_eq!(
        after_status(
            Status::Active,
            Some(at(1_000)),
            &inactive(Some(at(5))),
            at(10)
        ),
        Status::Expired
    );
}

#[test]
fn ngi_calling_a_consent_active_changes_nothing_and_ended_rows_never_reopen() {
    for stored in Status::ALL {
        assert_eq!(after_status(stored, None, &active(), at(0)), stored);
    }
    for stored in [
        Status::Revoked,
        Status::Used,
        Status::Refused,
        Status::Registering,
    ] {
        assert_eq!(after_status(stored, None, &inactive(None), at(0)), stored);
    }
}

#[test]
fn a_used_single_use_consent_is_refused_before_any_call() {
    assert_eq!(
        before_revoke(&row(Status::Used, None, None), at(0)),
        Before::Refuse(Status::Used)
    );
}

#[test]
fn a_revoked_or_ended_consent_is_not_revoked_again() {
    for status in [Status::Revoked, Status::EndedAtNgi, Status::Expired] {
        assert_eq!(
            before_revoke(&row(status, Some(30), None), at(0)),
            Before::Done(status)
        );
    }
}

#[test]
fn an_active_consent_past_our_expiry_is_still_revoked_at_ngi() {
    // Our clock may run ahead of NGI's: NGI's answer decides, not ours.
    assert_eq!(
        before_revoke(&row(Status::Active, Some(30), Some(at(5))), at(10)),
        Before::Attempt
    );
}

#[test]
fn an_active_or_revoking_consent_is_revoked_at_ngi() {
    let expiry = Some(at(1_000));
    assert_eq!(
        before_revoke(&row(Status::Active, Some(30), expiry), at(0)),
        Before::Attempt
    );
    assert_eq!(
        before_revoke(&row(Status::Revoking, Some(30), expiry), at(0)),
        Before::Attempt
    );
}

#[test]
fn only_ngis_invalid_consent_counts_as_ended() {
    let not_valid = AuthorizedError::Call(NgiError::ConsentNotValid {
        error: "invalid consent".into(),
        trace_id: None,
    });
    assert!(consent_not_valid(&not_valid));
    let server = AuthorizedError::Call(NgiError::Status {
        endpoint: crate::ngi::client::Endpoint::Revoke,
        status: 500,
        trace_id: None,
    });
    assert!(!consent_not_valid(&server));
    let timeout = AuthorizedError::Call(NgiError::Timeout {
        endpoint: crate::ngi::client::Endpoint::Revoke,
    });
    assert!(!consent_not_valid(&timeout));
}

#[test]
fn the_retry_waits_from_when_the_row_last_became_revoking() {
    let mut consent = row(Status::Revoking, Some(30), None);
    consent.history = vec![
        Change {
            at: at(0),
            from: None,
            to: Status::Active,
            reason: "granted".into(),
        },
        Change {
            at: at(100),
            from: Some(Status::Active),
            to: Status::Revoking,
            reason: "withdrawn".into(),
        },
    ];
    assert_eq!(revoking_since(&consent), Some(at(100)));
    assert_eq!(revoking_since(&row(Status::Active, None, None)), None);
}

#[test]
fn a_row_read_back_after_an_overlapping_attempt_says_how_it_ended() {
    assert!(matches!(
        revocation_of(row(Status::Revoked, Some(30), None)),
        Revocation::Revoked(_)
    ));
    for status in [Status::EndedAtNgi, Status::Expired] {
        assert!(matches!(
            revocation_of(row(status, Some(30), None)),
            Revocation::AlreadyEnded(_)
        ));
    }
    assert!(matches!(
        revocation_of(row(Status::Revoking, Some(30), None)),
        Revocation::Pending(_)
    ));
}
