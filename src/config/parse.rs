//! Parsers shared by every concern: addresses, URLs, whole numbers in a range, secrets that may
//! come from a file. Each names the variable it reads in its error.

use std::net::SocketAddr;
use std::ops::RangeInclusive;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use url::Url;

use super::{ConfigError, vars};

/// A socket address, or `default` when unset.
pub(crate) fn parse_addr(
    variable: &'static str,
    raw: Option<&str>,
    default: &str,
) -> Result<SocketAddr, ConfigError> {
    raw.unwrap_or(default).trim().parse().map_err(|e| {
        ConfigError::caused(
            variable,
            "not a socket address such as 127.0.0.1:3000 or 0.0.0.0:8080",
            e,
        )
    })
}

/// A whole number within `range`, or `None` when unset. `unit` completes the message
/// ("a whole number of seconds from 1 to 86400").
pub(crate) fn parse_in_range<T>(
    variable: &'static str,
    raw: Option<&str>,
    range: RangeInclusive<T>,
    unit: &str,
) -> Result<Option<T>, ConfigError>
where
    T: FromStr + PartialOrd + std::fmt::Display,
{
    let Some(raw) = raw else { return Ok(None) };
    match raw.trim().parse::<T>() {
        Ok(n) if range.contains(&n) => Ok(Some(n)),
        _ => Err(ConfigError::new(
            variable,
            format!(
                "a whole number{unit} from {} to {}",
                range.start(),
                range.end()
            ),
        )),
    }
}

pub(crate) fn parse_millis(
    variable: &'static str,
    raw: Option<&str>,
) -> Result<Option<Duration>, ConfigError> {
    Ok(parse_in_range(variable, raw, 1..=600_000, " of milliseconds")?.map(Duration::from_millis))
}

/// true/false (and the usual spellings), or `default` when unset.
pub(crate) fn parse_bool(
    variable: &'static str,
    raw: Option<&str>,
    default: bool,
) -> Result<bool, ConfigError> {
    match raw.map(str::trim) {
        None => Ok(default),
        Some("true" | "1" | "on" | "yes") => Ok(true),
        Some("false" | "0" | "off" | "no") => Ok(false),
        Some(other) => Err(ConfigError::new(
            variable,
            format!("'{other}' is not true or false"),
        )),
    }
}

/// A secret from its variable or from the file `<VARIABLE>_FILE` names, never both; the file's
/// trailing newline is not part of the secret.
pub(crate) fn secret_value(
    variable: &'static str,
    file_variable: &'static str,
    value: Option<&str>,
    file: Option<&Path>,
) -> Result<Option<String>, ConfigError> {
    match (value, file) {
        (Some(_), Some(_)) => Err(ConfigError::new(
            variable,
            format!("set either {variable} or {file_variable}, not both"),
        )),
        (Some(value), None) => Ok(Some(value.to_owned())),
        (None, Some(path)) => std::fs::read_to_string(path)
            .map(|s| Some(s.trim_end_matches(['\r', '\n']).to_owned()))
            .map_err(|e| {
                ConfigError::caused(file_variable, format!("cannot read {}", path.display()), e)
            }),
        (None, None) => Ok(None),
    }
}

/// An http(s) URL with a host and nothing after the path: NGI's hosts.
pub(crate) fn parse_base_url(variable: &'static str, raw: &str) -> Result<Url, ConfigError> {
    let mut url = Url::parse(raw.trim())
        .map_err(|e| ConfigError::caused(variable, "not an absolute URL", e))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(ConfigError::new(
            variable,
            "must be an http(s) URL with a host",
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(ConfigError::new(
            variable,
            "must not have a query or a fragment",
        ));
    }
    if url.scheme() == "http" && !is_loopback(&url) {
        return Err(ConfigError::new(
            variable,
            "must be https (plain http is only allowed for localhost)",
        ));
    }
    // NGI's paths are joined onto it: a base without a trailing slash would lose its last segment.
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    Ok(url)
}

/// The site's own base URL: https, or http on localhost for development (RFC 9700 §2.6).
pub(crate) fn parse_public_url(raw: &str) -> Result<Url, ConfigError> {
    let url = parse_base_url(vars::PUBLIC_URL, raw)?;
    if url.path() != "/" {
        return Err(ConfigError::new(
            vars::PUBLIC_URL,
            "must be the site's origin without a path, such as https://lan.example.no",
        ));
    }
    Ok(url)
}

/// Loopback hosts, where plain http is acceptable for a local run.
pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// A URL as it may be shown: without the password it may carry.
pub(crate) fn redacted(url: &Url) -> String {
    let mut shown = url.clone();
    if shown.password().is_some() {
        let _ = shown.set_password(Some("***"));
    }
    shown.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_numbers_outside_their_range_are_refused_naming_the_range() {
        let parse = |raw| parse_in_range::<u8>("X", Some(raw), 32..=64, "");
        assert_eq!(parse("32").unwrap(), Some(32));
        assert_eq!(parse(" 64 ").unwrap(), Some(64));
        for bad in ["31", "65", "-1", "fifty", ""] {
            let err = parse(bad).unwrap_err();
            assert_eq!(
                err.to_string(),
                "invalid setting X: a whole number from 32 to 64"
            );
        }
        assert_eq!(parse_in_range::<u8>("X", None, 32..=64, "").unwrap(), None);
    }

    #[test]
    fn booleans_take_the_usual_spellings() {
        assert!(parse_bool("X", Some(" yes"), false).unwrap());
        assert!(!parse_bool("X", Some("0"), true).unwrap());
        assert!(parse_bool("X", None, true).unwrap());
        assert_eq!(
            parse_bool("X", Some("maybe"), true).unwrap_err().variable,
            "X"
        );
    }

    #[test]
    fn base_urls_get_a_trailing_slash_and_plain_http_only_on_loopback() {
        let url = parse_base_url("X", "https://ngi.example/base").unwrap();
        assert_eq!(url.as_str(), "https://ngi.example/base/");
        assert!(parse_base_url("X", "http://localhost:9000").is_ok());
        assert!(parse_base_url("X", "http://ngi.example").is_err());
        assert!(parse_base_url("X", "https://ngi.example/?a=b").is_err());
        assert!(parse_base_url("X", "ftp://ngi.example").is_err());
    }

    #[test]
    fn an_unparsable_url_keeps_its_cause() {
        let err = parse_base_url("X", "not a url").unwrap_err();
        assert!(std::error::Error::source(&err).is_some());
    }

    #[test]
    fn loopback_means_localhost_or_a_loopback_address() {
        for host in ["http://localhost", "http://127.0.0.2:80", "http://[::1]"] {
            assert!(is_loopback(&Url::parse(host).unwrap()), "{host}");
        }
        for host in [
            "http://0.0.0.0",
            "https://lan.example.no",
            "http://10.0.0.1",
        ] {
            assert!(!is_loopback(&Url::parse(host).unwrap()), "{host}");
        }
    }

    #[test]
    fn a_password_in_a_url_is_shown_redacted() {
        let url = Url::parse("redis://:hunter2@redis:6379/0").unwrap();
        assert_eq!(redacted(&url), "redis://:***@redis:6379/0");
    }
}
