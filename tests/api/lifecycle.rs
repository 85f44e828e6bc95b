//! Using a consent that lasts, over real sockets against the simulator: the debt again, NGI's
//! status, revocation (confirmed, failed and retried by housekeeping, or found already ended),
//! and what is refused before any call.

use std::sync::Arc;
use std::time::Duration;

use jiff::SignedDuration;
use ngi_consent::consents::{HAD_ALREADY_ENDED, Revocation, UseError};
use ngi_consent::domain::consent::{ConsentId, Status};
use ngi_consent::ledger::{Consent, ListQuery};
use ngi_consent::ngi::client::{NgiClient, NgiConfig};
use ngi_consent::ngi::consents::Consents;
use ngi_consent::ngi::credentials::ClientCredentials;
use ngi_consent::simulator::{Endpoint, Fault};
use oauth2::{ClientId, ClientSecret};

use crate::helpers::{CLIENT_ID, CLIENT_SECRET, Options, PERSON_1, TestApp, spawn_app_with};

const TRACE: &str = "0b6f3c1e-2d4a-4f5b-9c6d-7e8f9a0b1c2d";
pub const WITH_DAYS: &str = "debt.unsecured.presentation.30";
pub const SINGLE_USE: &str = "debt.unsecured.presentation";

/// A site asking NGI for `scope`.
pub async fn app_asking_for(scope: &str) -> TestApp {
    spawn_app_with(Options {
        args: ngi_consent::config::ServeArgs {
            ngi_scope: Some(scope.into()),
            ..Default::default()
        },
        ..Default::default()
    })
    .await
}

/// The newest consent the site's ledger holds.
pub async fn newest_consent(app: &TestApp) -> Consent {
    let page = app
        .lifecycle()
        .ledger()
        .list(ListQuery {
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    let newest = page.consents.first().expect("a consent in the ledger");
    app.lifecycle()
        .ledger()
        .get_row(newest.row)
        .await
        .unwrap()
        .unwrap()
}

/// A completed redirect flow as `PERSON_1`: the consent the site recorded.
async fn granted(app: &TestApp) -> (ConsentId, Consent) {
    let page = app.follow_login(PERSON_1).await;
    assert_eq!(page.status(), reqwest::StatusCode::OK);
    let consent = newest_consent(app).await;
    (consent.id.clone().unwrap(), consent)
}

async fn stored(app: &TestApp, id: &ConsentId) -> Consent {
    app.lifecycle().ledger().get(id).await.unwrap().unwrap()
}

/// NGI's consent calls as another program of the same client would make them (to end a
/// consent behind the site's back).
pub fn ngi_consents(app: &TestApp) -> Consents {
    let ngi = Arc::new(
        NgiClient::new(NgiConfig {
            access: app.sim.base_url().clone(),
            api: app.sim.base_url().clone(),
            client_id: ClientId::new(CLIENT_ID.into()),
            client_secret: ClientSecret::new(CLIENT_SECRET.into()),
            redirect_uri: app.url("/v1/callback"),
            scope: WITH_DAYS.parse().unwrap(),
            pkce: true,
            issuer: Some(app.sim.issuer()),
            timeout: Duration::from_secs(2),
            connect_timeout: Duration::from_secs(1),
        })
        .unwrap(),
    );
    let creds = Arc::new(ClientCredentials::new(Arc::clone(&ngi), app.clock.as_clock()).unwrap());
    Consents::new(ngi, creds)
}

#[tokio::test]
async fn an_extended_consent_gives_the_debt_twice_and_nothing_is_stored() {
    let app = app_asking_for(WITH_DAYS).await;
    let (id, consent) = granted(&app).await;
    assert_eq!(consent.status, Status::Active);
    assert_eq!(consent.duration_days, Some(30));

    for _ in 0..2 {
        let debt = app
            .lifecycle()
            .debt_again(&id, app.clock.now(), TRACE)
            .await
            .unwrap();
        assert_eq!(debt.ssn.expose_secret(), PERSON_1);
        assert_eq!(debt.consent.unwrap().id, id.as_str());
    }
    let after = stored(&app, &id).await;
    assert_eq!(after.status, Status::Active);
    assert_eq!(after.history, consent.history, "a fetch changes nothing");
}

#[tokio::test]
async fn a_single_use_consent_is_refused_before_any_call() {
    let app = app_asking_for(SINGLE_USE).await;
    let (id, consent) = granted(&app).await;
    assert_eq!(consent.status, Status::Used);
    let calls = app.sim.consent_requests();

    let again = app
        .lifecycle()
        .debt_again(&id, app.clock.now(), TRACE)
        .await;
    assert!(
        matches!(
            again,
            Err(UseError::SingleUse {
                status: Status::Used
            })
        ),
        "{again:?}"
    );
    let revoke = app
        .lifecycle()
        .revoke(&id, "asked", app.clock.now(), TRACE)
        .await;
    assert!(
        matches!(
            revoke,
            Err(UseError::SingleUse {
                status: Status::Used
            })
        ),
        "{revoke:?}"
    );
    assert_eq!(app.sim.consent_requests(), calls, "NGI was asked");
    assert_eq!(stored(&app, &id).await.status, Status::Used);
}

#[tokio::test]
async fn an_id_not_in_the_ledger_is_refused_before_any_call() {
    let app = app_asking_for(WITH_DAYS).await;
    let id: ConsentId = "9c2a58dd-c0ea-4243-9b0f-baef670e7043".parse().unwrap();
    let now = app.clock.now();
    let lifecycle = app.lifecycle();
    assert!(matches!(
        lifecycle.debt_again(&id, now, TRACE).await,
        Err(UseError::Unknown)
    ));
    assert!(matches!(
        lifecycle.refresh_status(&id, now, TRACE).await,
        Err(UseError::Unknown)
    ));
    assert!(matches!(
        lifecycle.revoke(&id, "asked", now, TRACE).await,
        Err(UseError::Unknown)
    ));
    assert_eq!(app.sim.consent_requests(), 0);
}

#[tokio::test]
async fn the_status_is_active_before_a_revoke_and_revoked_after() {
    let app = app_asking_for(WITH_DAYS).await;
    let (id, _) = granted(&app).await;
    let lifecycle = app.lifecycle();

    let before = lifecycle
        .refresh_status(&id, app.clock.now(), TRACE)
        .await
        .unwrap();
    assert_eq!(before.status, Status::Active);
    assert!(before.expires_at.is_some());

    let revoked = lifecycle
        .revoke(
            &id,
            "the loan application was closed",
            app.clock.now(),
            TRACE,
        )
        .await
        .unwrap();
    let Revocation::Revoked(row) = revoked else {
        panic!("expected Revoked, got {revoked:?}")
    };
    assert_eq!(row.status, Status::Revoked);
    let moves: Vec<_> = row.history.iter().map(|c| (c.from, c.to)).collect();
    assert!(
        moves.ends_with(&[
            (Some(Status::Active), Status::Revoking),
            (Some(Status::Revoking), Status::Revoked)
        ]),
        "{moves:?}"
    );
    assert!(
        row.history
            .iter()
            .any(|c| c.reason == "the loan application was closed")
    );

    // NGI now calls it inactive; the row stays revoked, and the debt is refused before a call.
    let after = lifecycle
        .refresh_status(&id, app.clock.now(), TRACE)
        .await
        .unwrap();
    assert_eq!(after.status, Status::Revoked);
    let calls = app.sim.consent_requests();
    let again = lifecycle.debt_again(&id, app.clock.now(), TRACE).await;
    assert!(
        matches!(
            again,
            Err(UseError::NotActive {
                status: Status::Revoked
            })
        ),
        "{again:?}"
    );
    assert_eq!(app.sim.consent_requests(), calls);

    // Revoking again answers from the ledger.
    let again = lifecycle
        .revoke(&id, "asked twice", app.clock.now(), TRACE)
        .await
        .unwrap();
    assert!(matches!(again, Revocation::Revoked(_)), "{again:?}");
    assert_eq!(app.sim.consent_requests(), calls);
}

#[tokio::test]
async fn a_revocation_ngi_fails_stays_revoking_and_housekeeping_revokes_it_later() {
    let app = app_asking_for(WITH_DAYS).await;
    let (id, _) = granted(&app).await;
    let lifecycle = app.lifecycle();

    app.sim
        .set_fault(Endpoint::Consent, Some(Fault::status(500)));
    let pending = lifecycle
        .revoke(&id, "withdrawn", app.clock.now(), TRACE)
        .await
        .unwrap();
    assert!(matches!(pending, Revocation::Pending(_)), "{pending:?}");
    assert_eq!(stored(&app, &id).await.status, Status::Revoking);

    // Not due yet: nothing is tried.
    let outcome = lifecycle
        .retry_revocations(app.clock.now(), TRACE)
        .await
        .unwrap();
    assert_eq!(outcome.tried, 0);

    // Due, and NGI still failing: tried, still pending, never revoked.
    app.clock.advance(SignedDuration::from_secs(40));
    let outcome = lifecycle
        .retry_revocations(app.clock.now(), TRACE)
        .await
        .unwrap();
    assert_eq!((outcome.tried, outcome.pending, outcome.revoked), (1, 1, 0));
    assert_eq!(stored(&app, &id).await.status, Status::Revoking);

    // NGI is back; the next due step revokes it.
    app.sim.set_fault(Endpoint::Consent, None);
    app.clock.advance(SignedDuration::from_secs(90));
    let outcome = lifecycle
        .retry_revocations(app.clock.now(), TRACE)
        .await
        .unwrap();
    assert_eq!((outcome.tried, outcome.revoked), (1, 1));
    assert_eq!(stored(&app, &id).await.status, Status::Revoked);
    let status = ngi_consents(&app).consent_status(&id, TRACE).await.unwrap();
    assert!(!status.is_active(), "NGI still holds it: {status:?}");

    let outcome = lifecycle
        .retry_revocations(app.clock.now() + SignedDuration::from_hours(2), TRACE)
        .await
        .unwrap();
    assert_eq!(outcome.tried, 0, "a revoked consent is not tried again");
}

#[tokio::test]
async fn a_revocation_that_times_out_is_never_reported_revoked() {
    let app = app_asking_for(WITH_DAYS).await;
    let (id, _) = granted(&app).await;

    app.sim.set_fault(
        Endpoint::Consent,
        Some(Fault::Delay(Duration::from_secs(3))),
    );
    let pending = app
        .lifecycle()
        .revoke(&id, "withdrawn", app.clock.now(), TRACE)
        .await
        .unwrap();
    assert!(matches!(pending, Revocation::Pending(_)), "{pending:?}");
    assert_eq!(stored(&app, &id).await.status, Status::Revoking);
}

#[tokio::test]
async fn a_consent_that_had_already_ended_at_ngi_is_recorded_so() {
    let app = app_asking_for(WITH_DAYS).await;
    let (id, _) = granted(&app).await;
    // Ended at NGI behind the site's back: the site's DELETE then gets NGI's 403.
    ngi_consents(&app).revoke(&id, TRACE).await.unwrap();

    let ended = app
        .lifecycle()
        .revoke(&id, "withdrawn", app.clock.now(), TRACE)
        .await
        .unwrap();
    let Revocation::AlreadyEnded(row) = ended else {
        panic!("expected AlreadyEnded, got {ended:?}")
    };
    assert_eq!(row.status, Status::EndedAtNgi);
    assert_eq!(row.history.last().unwrap().reason, HAD_ALREADY_ENDED);
    assert_eq!(stored(&app, &id).await.status, Status::EndedAtNgi);
}

#[tokio::test]
async fn an_active_consent_ngi_calls_inactive_has_ended_at_ngi() {
    let app = app_asking_for(WITH_DAYS).await;
    let (id, _) = granted(&app).await;
    ngi_consents(&app).revoke(&id, TRACE).await.unwrap();

    let row = app
        .lifecycle()
        .refresh_status(&id, app.clock.now(), TRACE)
        .await
        .unwrap();
    assert_eq!(row.status, Status::EndedAtNgi);
}

#[tokio::test]
async fn a_debt_fetch_ngi_refuses_ends_the_consent() {
    let app = app_asking_for(WITH_DAYS).await;
    let (id, _) = granted(&app).await;
    ngi_consents(&app).revoke(&id, TRACE).await.unwrap();

    let again = app
        .lifecycle()
        .debt_again(&id, app.clock.now(), TRACE)
        .await;
    assert!(
        matches!(
            again,
            Err(UseError::NotActive {
                status: Status::EndedAtNgi
            })
        ),
        "{again:?}"
    );
    assert_eq!(stored(&app, &id).await.status, Status::EndedAtNgi);
}
