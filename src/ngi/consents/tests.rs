use super::*;

#[test]
fn a_uuid_is_a_consent_id() {
    let id: ConsentId = "9c2a58dd-c0ea-4243-9b0f-baef670e7043".parse().unwrap();
    assert_eq!(id.as_str(), "9c2a58dd-c0ea-4243-9b0f-baef670e7043");
    assert_eq!(id.to_string(), id.as_str());
}

#[test]
fn a_consent_id_refuses_what_could_change_the_path() {
    for bad in [
        "a/b",
        "..",
        "../status",
        "a%2Fb",
        "a?b",
        "a#b",
        "a b",
        "a.b",
        "æøå",
        "a\n",
    ] {
        assert_eq!(
            bad.parse::<ConsentId>(),
            Err(InvalidConsentId::BadCharacter),
            "{bad:?}"
        );
    }
}

#[test]
fn a_consent_id_is_one_to_sixty_four_characters() {
    assert_eq!("".parse::<ConsentId>(), Err(InvalidConsentId::Empty));
    assert!("a".repeat(64).parse::<ConsentId>().is_ok());
    assert_eq!(
        "a".repeat(65).parse::<ConsentId>(),
        Err(InvalidConsentId::TooLong)
    );
}

#[test]
fn an_active_status_keeps_its_expiry_in_epoch_seconds() {
    let status = ConsentStatus::parse(br#"{"active": true, "expires_at": 1629195636}"#).unwrap();
    assert_eq!(
        status,
        ConsentStatus::Active {
            expires_at: Some(Timestamp::from_second(1_629_195_636).unwrap())
        }
    );
    assert!(status.is_active());
}

#[test]
fn an_inactive_or_silent_status_is_inactive() {
    let inactive = ConsentStatus::parse(br#"{"active": false, "expires_at": 1629195636}"#).unwrap();
    assert!(!inactive.is_active());
    assert_eq!(
        inactive.expires_at(),
        Some(Timestamp::from_second(1_629_195_636).unwrap())
    );
    assert_eq!(
        ConsentStatus::parse(b"{}").unwrap(),
        ConsentStatus::Inactive { expires_at: None }
    );
    assert_eq!(
        ConsentStatus::parse(br#"{"active": false}"#).unwrap(),
        ConsentStatus::Inactive { expires_at: None }
    );
}

#[test]
fn an_expiry_out_of_range_is_unknown_not_an_error() {
    let status =
        ConsentStatus::parse(br#"{"active": true, "expires_at": 999999999999999}"#).unwrap();
    assert_eq!(status, ConsentStatus::Active { expires_at: None });
}

#[test]
fn a_status_that_is_not_json_or_of_the_wrong_types_is_refused() {
    assert!(ConsentStatus::parse(b"<html>").is_err());
    assert!(ConsentStatus::parse(br#"{"active": 1}"#).is_err());
}

#[test]
fn a_403_invalid_access_token_is_a_refused_token_and_invalid_consent_is_not() {
    let forbidden = |error: &str| NgiError::ConsentNotValid {
        error: error.into(),
        trace_id: None,
    };
    assert!(token_refused(&forbidden("Invalid access token")));
    assert!(!token_refused(&forbidden("invalid consent")));
    assert!(token_refused(&NgiError::Status {
        endpoint: Endpoint::ConsentStatus,
        status: 401,
        trace_id: None,
    }));
    assert!(!token_refused(&NgiError::Status {
        endpoint: Endpoint::ConsentStatus,
        status: 500,
        trace_id: None,
    }));
}

#[test]
fn a_status_with_active_as_a_string_is_read_as_the_spec_s_consent_info_writes_it() {
    assert!(
        ConsentStatus::parse(br#"{"active": "true"}"#)
            .unwrap()
            .is_active()
    );
    assert!(
        !ConsentStatus::parse(br#"{"active": "false"}"#)
            .unwrap()
            .is_active()
    );
}

#[test]
fn the_consent_url_is_under_the_api_url_with_the_id_as_one_segment() {
    let id: ConsentId = "9c2a58dd-c0ea-4243-9b0f-baef670e7043".parse().unwrap();
    let api = Url::parse("https://api.example/").unwrap();
    assert_eq!(
        consent_url(&api, &id, false).unwrap().as_str(),
        "https://api.example/v1/debt/9c2a58dd-c0ea-4243-9b0f-baef670e7043"
    );
    let api = Url::parse("https://api.example/ngi/").unwrap();
    assert_eq!(
        consent_url(&api, &id, true).unwrap().as_str(),
        "https://api.example/ngi/v1/debt/9c2a58dd-c0ea-4243-9b0f-baef670e7043/status"
    );
}

#[test]
fn an_id_that_skipped_the_rule_is_still_escaped_into_one_segment() {
    let api = Url::parse("https://api.example/").unwrap();
    let sneaky = ConsentId::unchecked("../../oauth2/revoke?x=1#y");
    let url = consent_url(&api, &sneaky, true).unwrap();
    assert_eq!(
        url.path(),
        "/v1/debt/..%2F..%2Foauth2%2Frevoke%3Fx=1%23y/status"
    );
    assert_eq!(url.query(), None);
    assert_eq!(url.path_segments().unwrap().count(), 4);
}
