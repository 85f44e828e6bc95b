use super::*;

/// NGI's spec example `fromSequenceNr=1, limit=2`, as the spec prints it.
const SPEC_FIRST: &str = r#"{
  "startSequenceNr": 1,
  "endSequenceNr": 2,
  "generatedAt": "2024-05-21T12:51:57.383110992Z",
  "result": [
    {
      "sequenceNr": 1,
      "eventId": "a499c700-7e36-4bd5-9b6b-19024b4f94f9",
      "consentId": "c8ff2ad5-4140-481d-a7cd-6c7deee7203c",
      "timestamp": "2024-05-20T12:51:52.184886875Z",
      "eventType": "SAMTYKKE_OPPRETTET",
      "samtykkeOpprettetEvent": {
        "clientId": "f8c4da9f-4c93-4904-8de4-b5942776f9c2",
        "consentId": "c8ff2ad5-4140-481d-a7cd-6c7deee7203c",
        "scope": "debt.unsecured.presentation",
        "externalConsentId": "cddda7ed-33be-432e-90d2-0179fbf60cb7"
      },
      "samtykkeArkivertEvent": null
    },
    {
      "sequenceNr": 2,
      "eventId": "47e34ae1-022f-46d4-b3e5-e8ef2dd2761c",
      "consentId": "c8ff2ad5-4140-481d-a7cd-6c7deee7203c",
      "timestamp": "2024-05-21T12:51:53.334608446Z",
      "eventType": "SAMTYKKE_ARKIVERT",
      "samtykkeOpprettetEvent": null,
      "samtykkeArkivertEvent": {
        "clientId": "f8c4da9f-4c93-4904-8de4-b5942776f9c2",
        "consentId": "cddda7ed-33be-432e-90d2-0179fbf60cb7"
      }
    }
  ]
}"#;

/// NGI's spec example `fromSequenceNr=3, limit=2`: one consent created twice.
const SPEC_SECOND: &str = r#"{
  "startSequenceNr": 3,
  "endSequenceNr": 4,
  "generatedAt": "2024-05-21T13:40:05.334608446Z",
  "result": [
    {
      "sequenceNr": 3,
      "eventId": "9634f284-22e7-43a9-bd87-219128a986cb",
      "consentId": "ae4a7b61-4c21-4ef2-a0d5-cd6647fa2950",
      "timestamp": "2024-05-21T13:00:05.214282916Z",
      "eventType": "SAMTYKKE_OPPRETTET",
      "samtykkeOpprettetEvent": {
        "clientId": "f8c4da9f-4c93-4904-8de4-b5942776f9c2",
        "consentId": "ae4a7b61-4c21-4ef2-a0d5-cd6647fa2950",
        "scope": "debt.unsecured.presentation",
        "externalConsentId": "40718443-2b30-42f4-b401-5d50d0e4fce3"
      },
      "samtykkeArkivertEvent": null
    },
    {
      "sequenceNr": 4,
      "eventId": "cb7e1a19-107f-4860-a9ea-d8106a16e8a1",
      "consentId": "ae4a7b61-4c21-4ef2-a0d5-cd6647fa2950",
      "timestamp": "2024-05-21T13:12:52.266725880Z",
      "eventType": "SAMTYKKE_OPPRETTET",
      "samtykkeOpprettetEvent": {
        "clientId": "f8c4da9f-4c93-4904-8de4-b5942776f9c2",
        "consentId": "ae4a7b61-4c21-4ef2-a0d5-cd6647fa2950",
        "scope": "debt.unsecured.presentation",
        "externalConsentId": "9bb63979-2a44-49ad-accb-cb54d418dd4f"
      },
      "samtykkeArkivertEvent": null
    }
  ]
}"#;

fn at(s: &str) -> Timestamp {
    s.parse().unwrap()
}

/// An event with the five required fields and the given extra fields.
fn event(
    sequence_nr: i64,
    event_id: &str,
    timestamp: &str,
    event_type: &str,
    extra: Value,
) -> Value {
    let mut value = serde_json::json!({
        "sequenceNr": sequence_nr,
        "eventId": event_id,
        "consentId": "c8ff2ad5-4140-481d-a7cd-6c7deee7203c",
        "timestamp": timestamp,
        "eventType": event_type,
    });
    if let (Some(fields), Value::Object(extra)) = (value.as_object_mut(), extra) {
        fields.extend(extra);
    }
    value
}

fn page_of(events: Vec<Value>) -> FeedPage {
    let body = serde_json::json!({
        "startSequenceNr": null,
        "endSequenceNr": null,
        "generatedAt": "2026-01-01T00:00:00Z",
        "result": events,
    });
    parse_page(body.to_string().as_bytes()).unwrap()
}

#[test]
fn the_specs_first_example_is_a_creation_and_its_archiving() {
    let page = parse_page(SPEC_FIRST.as_bytes()).unwrap();
    assert_eq!(page.start_sequence_nr, Some(1));
    assert_eq!(page.end_sequence_nr, Some(2));
    assert_eq!(
        page.generated_at,
        Some(at("2024-05-21T12:51:57.383110992Z"))
    );
    assert!(page.malformed.is_empty());
    let [created, archived] = page.events.as_slice() else {
        panic!("two events expected: {page:?}")
    };
    assert_eq!(created.sequence_nr, 1);
    assert_eq!(created.event_id, "a499c700-7e36-4bd5-9b6b-19024b4f94f9");
    assert_eq!(
        created.consent_id.as_str(),
        "c8ff2ad5-4140-481d-a7cd-6c7deee7203c"
    );
    assert_eq!(created.timestamp, at("2024-05-20T12:51:52.184886875Z"));
    assert_eq!(
        created.kind,
        EventKind::Created {
            client_id: "f8c4da9f-4c93-4904-8de4-b5942776f9c2".into(),
            consent_id: "c8ff2ad5-4140-481d-a7cd-6c7deee7203c".into(),
            scope: "debt.unsecured.presentation".into(),
            external_consent_id: Some("cddda7ed-33be-432e-90d2-0179fbf60cb7".into()),
        }
    );
    // The archiving is about the top-level consent; its block names the external id.
    assert_eq!(archived.consent_id, created.consent_id);
    assert_eq!(
        archived.kind,
        EventKind::Archived {
            client_id: "f8c4da9f-4c93-4904-8de4-b5942776f9c2".into(),
            consent_id: "cddda7ed-33be-432e-90d2-0179fbf60cb7".into(),
        }
    );
    assert_eq!(page.highest_sequence_nr(), Some(2));
}

#[test]
fn the_specs_second_example_creates_one_consent_twice_and_both_arrive() {
    let page = parse_page(SPEC_SECOND.as_bytes()).unwrap();
    assert_eq!(page.events.len(), 2);
    assert_eq!(page.events[0].consent_id, page.events[1].consent_id);
    assert_ne!(page.events[0].event_id, page.events[1].event_id);
    assert!(
        page.events
            .iter()
            .all(|e| matches!(e.kind, EventKind::Created { .. }))
    );
}

#[test]
fn an_event_delivered_twice_arrives_twice_with_one_id() {
    let created = serde_json::json!({
        "samtykkeOpprettetEvent": {
            "clientId": "c", "consentId": "x", "scope": "debt.unsecured.presentation"
        }
    });
    let page = page_of(vec![
        event(
            7,
            "e-1",
            "2026-01-01T10:00:00Z",
            "SAMTYKKE_OPPRETTET",
            created.clone(),
        ),
        event(
            9,
            "e-1",
            "2026-01-01T10:00:00Z",
            "SAMTYKKE_OPPRETTET",
            created,
        ),
    ]);
    let ids: Vec<_> = page
        .events
        .iter()
        .map(|e| (e.sequence_nr, e.event_id.as_str()))
        .collect();
    assert_eq!(ids, [(7, "e-1"), (9, "e-1")]);
    assert!(matches!(
        &page.events[0].kind,
        EventKind::Created {
            external_consent_id: None,
            ..
        }
    ));
}

#[test]
fn an_event_without_its_block_is_a_missing_block_not_an_error() {
    let archived_in_wrong_block = serde_json::json!({
        "samtykkeOpprettetEvent": null,
        "samtykkeArkivertEvent": null,
    });
    let half_block = serde_json::json!({ "samtykkeArkivertEvent": { "clientId": "c" } });
    let wrong_shape = serde_json::json!({ "samtykkeOpprettetEvent": "yes" });
    let page = page_of(vec![
        event(
            1,
            "e-1",
            "2026-01-01T10:00:00Z",
            "SAMTYKKE_ARKIVERT",
            archived_in_wrong_block,
        ),
        event(
            2,
            "e-2",
            "2026-01-01T10:00:00Z",
            "SAMTYKKE_OPPRETTET",
            serde_json::json!({}),
        ),
        event(
            3,
            "e-3",
            "2026-01-01T10:00:00Z",
            "SAMTYKKE_ARKIVERT",
            half_block,
        ),
        event(
            4,
            "e-4",
            "2026-01-01T10:00:00Z",
            "SAMTYKKE_OPPRETTET",
            wrong_shape,
        ),
    ]);
    assert!(page.malformed.is_empty());
    let kinds: Vec<_> = page.events.iter().map(|e| e.kind.clone()).collect();
    assert_eq!(
        kinds,
        [
            EventKind::MissingBlock {
                event_type: KnownType::Archived
            },
            EventKind::MissingBlock {
                event_type: KnownType::Created
            },
            EventKind::MissingBlock {
                event_type: KnownType::Archived
            },
            EventKind::MissingBlock {
                event_type: KnownType::Created
            },
        ]
    );
    assert!(
        page.events
            .iter()
            .all(|e| e.kind.label() == "missing_block")
    );
}

#[test]
fn an_unknown_event_type_is_kept_by_name_made_safe() {
    let page = page_of(vec![event(
        5,
        "e-5",
        "2026-01-01T10:00:00Z",
        "SAMTYKKE_FORNYET\n<script>",
        serde_json::json!({}),
    )]);
    assert_eq!(
        page.events[0].kind,
        EventKind::Unknown {
            event_type: "SAMTYKKE_FORNYETscript".into()
        }
    );
    assert!(EventKind::LABELS.contains(&page.events[0].kind.label()));
}

#[test]
fn timestamps_out_of_order_keep_the_sequence_order() {
    let block = serde_json::json!({
        "samtykkeArkivertEvent": { "clientId": "c", "consentId": "x" }
    });
    let page = page_of(vec![
        event(
            13,
            "e-13",
            "2026-01-01T09:00:00Z",
            "SAMTYKKE_ARKIVERT",
            block.clone(),
        ),
        event(
            7,
            "e-7",
            "2026-01-01T12:00:00Z",
            "SAMTYKKE_ARKIVERT",
            block.clone(),
        ),
        event(
            8,
            "e-8",
            "2026-01-01T08:00:00+02:00",
            "SAMTYKKE_ARKIVERT",
            block,
        ),
    ]);
    let seen: Vec<_> = page
        .events
        .iter()
        .map(|e| (e.sequence_nr, e.timestamp))
        .collect();
    assert_eq!(
        seen,
        [
            (7, at("2026-01-01T12:00:00Z")),
            (8, at("2026-01-01T06:00:00Z")),
            (13, at("2026-01-01T09:00:00Z")),
        ]
    );
    assert_eq!(page.highest_sequence_nr(), Some(13));
}

#[test]
fn a_malformed_event_is_recorded_and_the_others_still_arrive() {
    let good = |n: i64| {
        event(
            n,
            &format!("e-{n}"),
            "2026-01-01T10:00:00Z",
            "SAMTYKKE_ARKIVERT",
            serde_json::json!({ "samtykkeArkivertEvent": { "clientId": "c", "consentId": "x" } }),
        )
    };
    let mut bad_time = good(3);
    bad_time["timestamp"] = Value::from("yesterday");
    let mut bad_consent = good(4);
    bad_consent["consentId"] = Value::from("../status");
    let mut no_number = good(5);
    no_number.as_object_mut().unwrap().remove("sequenceNr");
    let mut bad_id = good(6);
    bad_id["eventId"] = Value::from("has space");
    let page = page_of(vec![
        good(1),
        bad_time,
        Value::from("not an event"),
        bad_consent,
        no_number,
        bad_id,
        good(20),
    ]);
    let read: Vec<_> = page.events.iter().map(|e| e.sequence_nr).collect();
    assert_eq!(read, [1, 20]);
    let bad: Vec<_> = page
        .malformed
        .iter()
        .map(|m| (m.sequence_nr, m.event_id.as_deref()))
        .collect();
    assert_eq!(
        bad,
        [
            (Some(3), Some("e-3")),
            (None, None),
            (Some(4), Some("e-4")),
            (None, Some("e-5")),
            (Some(6), None),
        ]
    );
    assert!(page.malformed.iter().all(|m| !m.reason.is_empty()));
    assert!(!page.is_empty());
    assert_eq!(page.highest_sequence_nr(), Some(20));
}

#[test]
fn a_malformed_event_past_the_last_good_one_still_counts_as_received() {
    let mut bad = event(
        9,
        "e-9",
        "not a time",
        "SAMTYKKE_ARKIVERT",
        serde_json::json!({}),
    );
    bad["eventType"] = Value::Null;
    let page = page_of(vec![bad]);
    assert!(page.events.is_empty());
    assert_eq!(page.highest_sequence_nr(), Some(9));
}

#[test]
fn an_empty_page_has_no_numbers_and_no_events() {
    let page = parse_page(br#"{"result": [], "generatedAt": "garbage"}"#).unwrap();
    assert!(page.is_empty());
    assert_eq!(page.highest_sequence_nr(), None);
    assert_eq!(
        (
            page.start_sequence_nr,
            page.end_sequence_nr,
            page.generated_at
        ),
        (None, None, None)
    );
}

#[test]
fn an_answer_without_a_result_array_is_refused() {
    for body in [
        &b"not json"[..],
        b"[]",
        b"{}",
        br#"{"result": null}"#,
        br#"{"result": {"sequenceNr": 1}}"#,
    ] {
        assert!(
            parse_page(body).is_err(),
            "{}",
            String::from_utf8_lossy(body)
        );
    }
}

#[test]
fn the_first_and_last_numbers_are_read_from_their_object_or_bare() {
    assert_eq!(
        parse_sequence_nr(br#"{"firstSequenceNr": 17}"#, "firstSequenceNr"),
        Ok(Some(17))
    );
    assert_eq!(
        parse_sequence_nr(br#"{"lastSequenceNr": null}"#, "lastSequenceNr"),
        Ok(None)
    );
    assert_eq!(parse_sequence_nr(b"{}", "lastSequenceNr"), Ok(None));
    assert_eq!(parse_sequence_nr(b"42", "lastSequenceNr"), Ok(Some(42)));
    for bad in [
        &br#"{"lastSequenceNr": "42"}"#[..],
        br#"{"lastSequenceNr": 4.5}"#,
        b"nope",
    ] {
        assert!(
            parse_sequence_nr(bad, "lastSequenceNr").is_err(),
            "{}",
            String::from_utf8_lossy(bad)
        );
    }
}

#[test]
fn block_strings_lose_control_characters_and_are_bounded() {
    let long = "x".repeat(1000);
    let page = page_of(vec![event(
        1,
        "e-1",
        "2026-01-01T10:00:00Z",
        "SAMTYKKE_OPPRETTET",
        serde_json::json!({ "samtykkeOpprettetEvent": {
            "clientId": "c\u{1b}[31m", "consentId": long, "scope": "s\n", "externalConsentId": "APP-1"
        }}),
    )]);
    let EventKind::Created {
        client_id,
        consent_id,
        scope,
        external_consent_id,
    } = &page.events[0].kind
    else {
        panic!("a creation: {page:?}")
    };
    assert_eq!(client_id, "c[31m");
    assert_eq!(consent_id.len(), MAX_TEXT_CHARS);
    assert_eq!(scope, "s");
    assert_eq!(external_consent_id.as_deref(), Some("APP-1"));
}

#[test]
fn every_known_type_has_its_wire_name() {
    assert_eq!(KnownType::Created.wire_name(), "SAMTYKKE_OPPRETTET");
    assert_eq!(KnownType::Archived.wire_name(), "SAMTYKKE_ARKIVERT");
}
