//! The partner API's token: `PARTNER_TOKEN` or `PARTNER_TOKEN_FILE`. Without one the partner API
//! is not mounted (in simulator mode a token is made for the run instead, see `startup`).

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::args::ServeArgs;
use super::parse::secret_value;
use super::{ConfigError, vars};

/// Shorter tokens can be guessed or were typed by hand; 32 characters of base64 are 192 bits.
pub const MIN_TOKEN_CHARS: usize = 32;

/// The bearer token a partner's systems send. `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct PartnerToken(String);

impl PartnerToken {
    /// A token for one run of the demo: 32 bytes from the CSPRNG, base64url (43 characters).
    pub fn generate() -> Self {
        let bytes: [u8; 32] = rand::random();
        Self(URL_SAFE_NO_PAD.encode(bytes))
    }

    /// The token itself, for the digest that checks requests and the key that signs links, and
    /// for the one line that shows a made-up demo token to whoever started the site.
    pub fn secret(&self) -> &str {
        &self.0
    }

    /// A token as configured: at least 32 characters, each visible ASCII (it travels in an
    /// `Authorization` header).
    fn parse(variable: &'static str, raw: String) -> Result<Self, ConfigError> {
        if raw.chars().count() < MIN_TOKEN_CHARS {
            return Err(ConfigError::new(
                variable,
                format!(
                    "must be at least {MIN_TOKEN_CHARS} characters (openssl rand -base64 32 makes one)"
                ),
            ));
        }
        if !raw.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(ConfigError::new(
                variable,
                "must be visible ASCII characters only, without spaces",
            ));
        }
        Ok(Self(raw))
    }
}

impl fmt::Debug for PartnerToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PartnerToken([redacted])")
    }
}

/// The configured token, if any: from `PARTNER_TOKEN` or the file `PARTNER_TOKEN_FILE` names.
pub(crate) fn partner_token(args: &ServeArgs) -> Result<Option<PartnerToken>, ConfigError> {
    let from_file = args.partner_token.is_none();
    let raw = secret_value(
        vars::PARTNER_TOKEN,
        vars::PARTNER_TOKEN_FILE,
        args.partner_token.as_deref(),
        args.partner_token_file.as_deref(),
    )?;
    let variable = if from_file {
        vars::PARTNER_TOKEN_FILE
    } else {
        vars::PARTNER_TOKEN
    };
    raw.map(|raw| PartnerToken::parse(variable, raw))
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn a_token_of_32_characters_is_taken() {
        let args = ServeArgs {
            partner_token: Some(GOOD.into()),
            ..ServeArgs::default()
        };
        let token = partner_token(&args).unwrap().unwrap();
        assert_eq!(token.secret(), GOOD);
    }

    #[test]
    fn no_token_is_no_partner_api() {
        assert!(partner_token(&ServeArgs::default()).unwrap().is_none());
    }

    #[test]
    fn a_short_token_is_refused_naming_the_setting() {
        let args = ServeArgs {
            partner_token: Some(GOOD[1..].into()),
            ..ServeArgs::default()
        };
        let err = partner_token(&args).unwrap_err();
        assert_eq!(err.variable, vars::PARTNER_TOKEN);
        assert!(!err.to_string().contains(&GOOD[1..]), "{err}");
    }

    #[test]
    fn a_token_with_spaces_is_refused() {
        let args = ServeArgs {
            partner_token: Some(format!("{GOOD} x")),
            ..ServeArgs::default()
        };
        assert_eq!(
            partner_token(&args).unwrap_err().variable,
            vars::PARTNER_TOKEN
        );
    }

    #[test]
    fn a_token_and_a_token_file_together_are_refused() {
        let args = ServeArgs {
            partner_token: Some(GOOD.into()),
            partner_token_file: Some("/run/secrets/partner".into()),
            ..ServeArgs::default()
        };
        assert_eq!(
            partner_token(&args).unwrap_err().variable,
            vars::PARTNER_TOKEN
        );
    }

    #[test]
    fn a_short_token_in_a_file_names_the_file_setting() {
        let path = std::env::temp_dir().join(format!("partner-token-{}", std::process::id()));
        std::fs::write(&path, "short\n").unwrap();
        let args = ServeArgs {
            partner_token_file: Some(path.clone()),
            ..ServeArgs::default()
        };
        let err = partner_token(&args).unwrap_err();
        std::fs::remove_file(path).unwrap();
        assert_eq!(err.variable, vars::PARTNER_TOKEN_FILE);
    }

    #[test]
    fn generated_tokens_are_43_characters_and_differ() {
        let a = PartnerToken::generate();
        let b = PartnerToken::generate();
        assert_eq!(a.secret().len(), 43);
        assert!(a.secret().len() >= MIN_TOKEN_CHARS);
        assert_ne!(a, b);
    }

    #[test]
    fn debug_never_shows_the_token() {
        let token = PartnerToken::generate();
        assert!(!format!("{token:?}").contains(token.secret()));
    }
}
