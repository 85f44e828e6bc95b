use super::*;

const CLIENT: &str = "demo";
const REDIRECT: &str = "http://127.0.0.1:8080/v1/callback";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

fn t0() -> Timestamp {
    Timestamp::from_second(1_760_000_000).unwrap()
}

fn request(scope: &str, challenge: Option<&str>) -> AuthorizationRequest {
    AuthorizationRequest {
        client_id: CLIENT.into(),
        redirect_uri: REDIRECT.into(),
        state: "state".into(),
        scope: Scope::parse(scope).unwrap(),
        code_challenge: challenge.map(str::to_owned),
        nonce: None,
    }
}

fn nin() -> Nin {
    Nin::parse("14842249091").unwrap()
}

/// Runs authorize → login → accept at `at` and returns the code.
fn code_for(store: &mut Store, scope: &str, challenge: Option<&str>, at: Timestamp) -> String {
    let tx = store.begin(request(scope, challenge), at);
    assert_eq!(store.log_in(&tx, nin(), at), Ok(()));
    store.accept(&tx, at).unwrap().code
}

fn exchange<'a>(code: &'a str, verifier: Option<&'a str>) -> TokenExchange<'a> {
    TokenExchange {
        client_id: CLIENT,
        code,
        redirect_uri: REDIRECT,
        code_verifier: verifier,
    }
}

/// A flow through to its access token, at `t0`, for `scope`.
fn token_for(store: &mut Store, scope: &str) -> String {
    let code = code_for(store, scope, None, t0());
    store
        .redeem(&exchange(&code, None), t0())
        .unwrap()
        .access_token
}

#[test]
fn a_code_is_accepted_until_just_before_sixty_seconds() {
    let mut store = Store::default();
    let code = code_for(&mut store, "debt.unsecured.presentation", None, t0());
    let just_before = later(t0(), SignedDuration::from_millis(59_999));
    assert!(store.redeem(&exchange(&code, None), just_before).is_ok());
}

#[test]
fn a_code_expires_sixty_seconds_after_issue() {
    let mut store = Store::default();
    let code = code_for(&mut store, "debt.unsecured.presentation", None, t0());
    let at_expiry = later(t0(), CODE_TTL);
    assert_eq!(
        store.redeem(&exchange(&code, None), at_expiry).err(),
        Some(GrantError::Expired)
    );
}

#[test]
fn a_code_is_single_use_and_its_replay_revokes_the_token() {
    let mut store = Store::default();
    let code = code_for(&mut store, "debt.unsecured.presentation.30", None, t0());
    let token = store
        .redeem(&exchange(&code, None), t0())
        .unwrap()
        .access_token;
    assert_eq!(
        store.redeem(&exchange(&code, None), t0()).err(),
        Some(GrantError::AlreadyUsed)
    );
    assert_eq!(
        store.use_token(&token, t0()).err(),
        Some(DebtRefusal::UnknownToken)
    );
}

#[test]
fn pkce_is_checked_both_ways() {
    let mut store = Store::default();
    let scope = "debt.unsecured.presentation";
    let code = code_for(&mut store, scope, Some(CHALLENGE), t0());
    assert_eq!(
        store.redeem(&exchange(&code, None), t0()).err(),
        Some(GrantError::MissingVerifier)
    );
    let code = code_for(&mut store, scope, Some(CHALLENGE), t0());
    let wrong = "x".repeat(43);
    assert_eq!(
        store.redeem(&exchange(&code, Some(&wrong)), t0()).err(),
        Some(GrantError::VerifierMismatch)
    );
    let code = code_for(&mut store, scope, None, t0());
    assert_eq!(
        store.redeem(&exchange(&code, Some(VERIFIER)), t0()).err(),
        Some(GrantError::UnexpectedVerifier)
    );
    let code = code_for(&mut store, scope, Some(CHALLENGE), t0());
    assert!(store.redeem(&exchange(&code, Some(VERIFIER)), t0()).is_ok());
}

#[test]
fn the_code_is_bound_to_client_and_redirect_uri() {
    let mut store = Store::default();
    let code = code_for(&mut store, "debt.unsecured.presentation", None, t0());
    let other_client = TokenExchange {
        client_id: "other",
        ..exchange(&code, None)
    };
    assert_eq!(
        store.redeem(&other_client, t0()).err(),
        Some(GrantError::OtherClient)
    );
    let code = code_for(&mut store, "debt.unsecured.presentation", None, t0());
    let other_uri = TokenExchange {
        redirect_uri: "http://127.0.0.1:8080/v1/callback/",
        ..exchange(&code, None)
    };
    assert_eq!(
        store.redeem(&other_uri, t0()).err(),
        Some(GrantError::RedirectUriMismatch)
    );
}

#[test]
fn a_single_use_consent_gives_debt_once() {
    let mut store = Store::default();
    let token = token_for(&mut store, "debt.unsecured.presentation");
    assert!(store.use_token(&token, t0()).is_ok());
    assert_eq!(
        store.use_token(&token, t0()).err(),
        Some(DebtRefusal::NoValidConsent)
    );
}

#[test]
fn an_extended_consent_gives_debt_until_the_token_expires() {
    let mut store = Store::default();
    let code = code_for(&mut store, "debt.unsecured.processing.500", None, t0());
    let issued = store.redeem(&exchange(&code, None), t0());
    assert_eq!(
        issued.as_ref().map(|t| t.scope.as_str()).ok(),
        Some("debt.unsecured.processing.500")
    );
    let token = issued.unwrap().access_token;
    let grant = store.use_token(&token, t0());
    // Clamped to 28 days.
    assert_eq!(
        grant.map(|g| g.consent.expires_at).ok(),
        Some(later(t0(), SignedDuration::from_hours(28 * 24)))
    );
    assert!(
        store
            .use_token(&token, later(t0(), SignedDuration::from_mins(30)))
            .is_ok()
    );
    assert_eq!(
        store.use_token(&token, later(t0(), ACCESS_TOKEN_TTL)).err(),
        Some(DebtRefusal::ExpiredToken)
    );
}

#[test]
fn a_single_use_consent_not_used_within_ten_minutes_has_expired() {
    let mut store = Store::default();
    let token = token_for(&mut store, "debt.unsecured.presentation");
    let at = later(t0(), SINGLE_USE_CONSENT_TTL);
    assert_eq!(
        store.use_token(&token, at).err(),
        Some(DebtRefusal::ConsentExpired(at))
    );
}

#[test]
fn transactions_expire_after_ten_minutes() {
    let mut store = Store::default();
    let tx = store.begin(request("debt.unsecured.presentation", None), t0());
    let almost = later(t0(), TRANSACTION_TTL - SignedDuration::from_secs(1));
    assert!(store.transaction(&tx, almost).is_some());
    assert!(
        store
            .transaction(&tx, later(t0(), TRANSACTION_TTL))
            .is_none()
    );
    assert!(
        store.transaction(&tx, t0()).is_none(),
        "expired ones are removed"
    );
}

#[test]
fn accepting_needs_a_login_and_ends_the_transaction() {
    let mut store = Store::default();
    let tx = store.begin(request("debt.unsecured.presentation", None), t0());
    assert_eq!(
        store.accept(&tx, t0()).err(),
        Some(TransactionError::NotLoggedIn)
    );
    assert_eq!(store.log_in(&tx, nin(), t0()), Ok(()));
    assert!(store.accept(&tx, t0()).is_ok());
    assert_eq!(
        store.accept(&tx, t0()).err(),
        Some(TransactionError::UnknownOrExpired)
    );
}

#[test]
fn maps_stay_bounded_and_drop_the_oldest_first() {
    let mut store = Store::default();
    let first = store.begin(request("debt.unsecured.presentation", None), t0());
    for i in 1..MAX_ENTRIES + 5 {
        let at = later(t0(), SignedDuration::from_millis(i64::try_from(i).unwrap()));
        store.begin(request("debt.unsecured.presentation", None), at);
    }
    assert_eq!(store.transactions.len(), MAX_ENTRIES);
    assert!(store.transaction(&first, t0()).is_none());
}

#[test]
fn expired_entries_make_room_before_live_ones_are_dropped() {
    let mut store = Store::default();
    for _ in 0..MAX_ENTRIES {
        store.begin(request("debt.unsecured.presentation", None), t0());
    }
    let after = later(t0(), TRANSACTION_TTL);
    let tx = store.begin(request("debt.unsecured.presentation", None), after);
    assert_eq!(store.transactions.len(), 1);
    assert!(store.transaction(&tx, after).is_some());
}

#[test]
fn a_revoked_consent_gives_no_debt_to_the_token_of_its_flow() {
    let mut store = Store::default();
    let token = token_for(&mut store, "debt.unsecured.presentation.30");
    let id = store.use_token(&token, t0()).unwrap().consent.id;
    store.client_consent(&id, CLIENT).unwrap().revoked = true;
    assert_eq!(
        store.use_token(&token, t0()).err(),
        Some(DebtRefusal::NoValidConsent)
    );
}

#[test]
fn a_consent_is_held_only_by_the_client_it_was_given_to() {
    let mut store = Store::default();
    let token = token_for(&mut store, "debt.unsecured.presentation.30");
    let id = store.use_token(&token, t0()).unwrap().consent.id;
    assert!(store.client_consent(&id, CLIENT).is_some());
    assert!(store.client_consent(&id, "other-client").is_none());
    assert!(store.client_consent("no-such-id", CLIENT).is_none());
}

fn agreement(days: u32) -> Agreement {
    Agreement {
        nin: nin(),
        purpose: Purpose::Processing,
        days,
    }
}

#[test]
fn an_agreement_makes_a_consent_with_days_for_its_client() {
    let mut store = Store::default();
    let consent = store
        .register_agreement(CLIENT, "APP-1", agreement(28), t0())
        .unwrap();
    assert!(!consent.single_use);
    assert_eq!(consent.purpose, Purpose::Processing);
    assert_eq!(
        consent.expires_at,
        later(t0(), SignedDuration::from_hours(28 * 24))
    );
    assert!(store.client_consent(&consent.id, CLIENT).is_some());
    assert!(store.client_consent(&consent.id, "other").is_none());
}

#[test]
fn the_same_agreement_again_is_the_same_consent_and_other_data_a_conflict() {
    let mut store = Store::default();
    let first = store
        .register_agreement(CLIENT, "APP-1", agreement(28), t0())
        .unwrap();
    let later_on = later(t0(), SignedDuration::from_mins(5));
    let again = store
        .register_agreement(CLIENT, "APP-1", agreement(28), later_on)
        .unwrap();
    assert_eq!(again.id, first.id);
    assert_eq!(again.expires_at, first.expires_at);
    assert_eq!(
        store
            .register_agreement(CLIENT, "APP-1", agreement(27), later_on)
            .unwrap_err(),
        AgreementConflict
    );
    // Another reference, or the same reference of another client, is another consent.
    let other = store
        .register_agreement(CLIENT, "APP-2", agreement(28), later_on)
        .unwrap();
    assert_ne!(other.id, first.id);
    let other_client = store
        .register_agreement("other", "APP-1", agreement(27), later_on)
        .unwrap();
    assert_ne!(other_client.id, first.id);
}

#[test]
fn agreement_keys_of_different_pairs_never_meet() {
    assert_ne!(agreement_key("a:b", "c"), agreement_key("a", "b:c"));
}

/// The kinds of `client`'s events in the feed, in order.
fn feed_kinds(store: &mut Store, client: &str, at: Timestamp) -> Vec<(String, &'static str)> {
    store
        .feed
        .page(client, 0, 1000, at)
        .into_iter()
        .map(|e| {
            let kind = match e.kind {
                EventKind::Created { .. } => "created",
                EventKind::Archived { .. } => "archived",
            };
            (e.consent_id, kind)
        })
        .collect()
}

#[test]
fn a_single_use_consent_is_created_then_archived_when_spent() {
    let mut store = Store::default();
    let token = token_for(&mut store, "debt.unsecured.presentation");
    let id = store.use_token(&token, t0()).unwrap().consent.id;
    assert_eq!(
        feed_kinds(&mut store, CLIENT, t0()),
        [(id.clone(), "created"), (id, "archived")]
    );
}

#[test]
fn the_same_agreement_again_publishes_no_second_creation() {
    let mut store = Store::default();
    let id = store
        .register_agreement(CLIENT, "APP-1", agreement(28), t0())
        .unwrap()
        .id;
    store
        .register_agreement(CLIENT, "APP-1", agreement(28), t0())
        .unwrap();
    assert_eq!(feed_kinds(&mut store, CLIENT, t0()), [(id, "created")]);
    let event = store.feed.get(1).unwrap();
    assert_eq!(
        event.kind,
        EventKind::Created {
            scope: "debt.unsecured.processing".into(),
            external_consent_id: Some("APP-1".into()),
        }
    );
}

#[test]
fn an_expiry_is_published_once_when_noticed_stamped_when_it_happened() {
    let mut store = Store::default();
    let consent = store
        .register_agreement(CLIENT, "APP-1", agreement(1), t0())
        .unwrap();
    store.notice_expired(t0());
    assert_eq!(store.feed.last(), 1, "not expired yet");
    let much_later = later(t0(), SignedDuration::from_hours(50));
    store.notice_expired(much_later);
    store.notice_expired(much_later);
    assert_eq!(store.feed.last(), 2, "one archiving, however often noticed");
    let archived = store.feed.get(2).unwrap();
    assert_eq!(archived.timestamp, consent.expires_at);
    assert_eq!(
        archived.kind,
        EventKind::Archived {
            block_consent_id: "APP-1".into()
        }
    );
}

#[test]
fn a_person_revokes_only_their_own_active_consent_and_the_feed_says_so() {
    let mut store = Store::default();
    let id = store
        .register_agreement(CLIENT, "APP-1", agreement(28), t0())
        .unwrap()
        .id;
    let other = Nin::parse("29868099311").unwrap();
    assert_eq!(
        store.revoke_by_person(&id, &other, t0()),
        Err(PersonRevokeError::Unknown)
    );
    assert_eq!(store.revoke_by_person(&id, &nin(), t0()), Ok(()));
    assert_eq!(
        store.revoke_by_person(&id, &nin(), t0()),
        Err(PersonRevokeError::Ended)
    );
    assert!(!store.client_consent(&id, CLIENT).unwrap().is_active(t0()));
    assert_eq!(
        feed_kinds(&mut store, CLIENT, t0()),
        [(id.clone(), "created"), (id, "archived")]
    );
    assert_eq!(store.consents_of(&nin()).len(), 1);
    assert!(store.consents_of(&other).is_empty());
}

#[test]
fn the_hidden_client_leaves_gaps_in_what_a_client_sees() {
    let mut store = Store::default();
    store
        .register_agreement(CLIENT, "APP-1", agreement(28), t0())
        .unwrap();
    store.hidden_client_acts(t0()).unwrap();
    store.hidden_client_acts(t0()).unwrap();
    store
        .register_agreement(CLIENT, "APP-2", agreement(28), t0())
        .unwrap();
    let seen: Vec<i64> = store
        .feed
        .page(CLIENT, 0, 10, t0())
        .iter()
        .map(|e| e.sequence_nr)
        .collect();
    assert_eq!(seen, [1, 4]);
}

#[test]
fn a_granted_consent_is_the_clients_own_and_its_creation_is_in_the_feed() {
    let mut store = Store::default();
    let id = store.grant(CLIENT, 30, t0()).unwrap();
    let consent = store.client_consent(&id, CLIENT).unwrap().clone();
    assert!(consent.is_active(t0()));
    assert!(!consent.single_use);
    assert_eq!(
        consent.expires_at,
        later(t0(), SignedDuration::from_hours(30 * 24))
    );
    assert_eq!(feed_kinds(&mut store, CLIENT, t0()), [(id, "created")]);
    assert!(feed_kinds(&mut store, "another", t0()).is_empty());
}
