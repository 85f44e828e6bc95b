//! Start-up as an operator meets it: one clear line naming a bad setting, and a non-zero exit.

use std::process::Command;

fn run_with(env: &[(&str, &str)]) -> std::process::Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_ngi-consent"));
    command.env_clear();
    for (key, value) in env {
        command.env(key, value);
    }
    command.output().unwrap()
}

#[test]
fn a_missing_client_id_outside_simulator_mode_stops_start_up_naming_it() {
    let out = run_with(&[
        ("NGI_ENV", "preprod"),
        ("PUBLIC_URL", "https://lan.example.no"),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("invalid setting NGI_CLIENT_ID"), "{stderr}");
}

#[test]
fn a_bad_scope_stops_start_up_naming_it() {
    let out = run_with(&[("NGI_SCOPE", "debt.unsecured.presentation.400")]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("invalid setting NGI_SCOPE"), "{stderr}");
}

#[test]
fn the_client_secret_never_appears_in_start_up_output() {
    let secret = "very-secret-value-123";
    let out = run_with(&[
        ("NGI_ENV", "preprod"),
        ("NGI_CLIENT_ID", "client"),
        ("NGI_CLIENT_SECRET", secret),
        ("PUBLIC_URL", "https://lan.example.no"),
        ("APP_BIND", "not-an-address"),
    ]);
    assert_ne!(out.status.code(), Some(0));
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(all.contains("APP_BIND"));
    assert!(!all.contains(secret));
}

#[test]
fn help_lists_every_setting_without_the_secret_value() {
    let mut command = Command::new(env!("CARGO_BIN_EXE_ngi-consent"));
    command
        .env("NGI_CLIENT_SECRET", "hidden-secret-xyz")
        .arg("--help");
    let out = command.output().unwrap();
    let help = String::from_utf8(out.stdout).unwrap();
    for variable in [
        "APP_BIND",
        "PUBLIC_URL",
        "NGI_ENV",
        "NGI_ACCESS_URL",
        "NGI_API_URL",
        "NGI_CLIENT_ID",
        "NGI_CLIENT_SECRET",
        "NGI_SCOPE",
        "NGI_PKCE",
        "SIMULATOR_BIND",
    ] {
        assert!(help.contains(variable), "{variable} missing from --help");
    }
    assert!(!help.contains("hidden-secret-xyz"));
}

#[tokio::test]
async fn the_container_healthcheck_passes_against_a_running_site_and_fails_without_one() {
    let app = crate::helpers::spawn_app().await;
    let bind = format!("127.0.0.1:{}", app.address.port().unwrap());
    let ok = tokio::process::Command::new(env!("CARGO_BIN_EXE_ngi-consent"))
        .args(["healthcheck", "--bind", &bind])
        .status()
        .await
        .unwrap();
    assert!(ok.success());

    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dead = closed.local_addr().unwrap().to_string();
    drop(closed);
    let failed = tokio::process::Command::new(env!("CARGO_BIN_EXE_ngi-consent"))
        .args(["healthcheck", "--bind", &dead])
        .status()
        .await
        .unwrap();
    assert!(!failed.success());
}
