//! The partner API's door: `Authorization: Bearer <token>`, compared in constant time on
//! SHA-256 digests (so neither the length nor any prefix of the token shows in the time taken),
//! and a limit on failed attempts per client address.
//!
//! The failure count is a small fixed window kept here rather than a `governor` limiter:
//! a client over its limit must be refused *before* its token is checked (or guessing would go
//! on, each wrong guess merely answered 429), and governor can only check by spending.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use ipnet::IpNet;
use jiff::{SignedDuration, Timestamp};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::problem::Problem;
use crate::config::{PartnerToken, StartLimits};
use crate::domain::time::Clock;
use crate::web::ratelimit::client_ip;

/// The challenge sent with every 401 (RFC 6750 §3).
pub const CHALLENGE: &str = "Bearer realm=\"ngi-consent partner API\"";
const CHALLENGE_INVALID: &str = "Bearer realm=\"ngi-consent partner API\", error=\"invalid_token\"";

/// Failed attempts one client may make per window before it must wait for the window to end.
pub const MAX_FAILURES: u32 = 10;
/// The window failures are counted in.
pub const FAILURE_WINDOW: SignedDuration = SignedDuration::from_mins(1);
/// Clients remembered before the ones whose window is over are forgotten.
const MAX_CLIENTS_KEPT: usize = 10_000;

/// What the door knows: the token's digest (never the token), who the client is, and the clock.
pub struct Door {
    token_digest: [u8; 32],
    failures: Mutex<HashMap<IpAddr, Window>>,
    trusted_proxies: Arc<[IpNet]>,
    ipv6_prefix: u8,
    clock: Clock,
}

/// What the door made of an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt {
    Admitted,
    /// Not the token; the failure is counted.
    Refused,
    /// The client failed too often: refused without looking, for `retry_after` more seconds.
    Blocked {
        retry_after: u64,
    },
}

#[derive(Clone, Copy)]
struct Window {
    started: Timestamp,
    failures: u32,
}

impl Door {
    pub fn new(token: &PartnerToken, limits: &StartLimits, clock: Clock) -> Self {
        Self {
            token_digest: Sha256::digest(token.secret().as_bytes()).into(),
            failures: Mutex::new(HashMap::new()),
            trusted_proxies: limits.trusted_proxies.as_slice().into(),
            ipv6_prefix: limits.ipv6_prefix,
            clock,
        }
    }

    /// Whether `presented` opens the door, counting a failure against `client`. The right token
    /// always passes: a client address that failed too often (behind a proxy not in
    /// TRUSTED_PROXIES, every client shares one) must not lock the partner out. With a token of
    /// 32 or more characters guessing is hopeless anyway; the limit only slows it. A client over
    /// its limit is refused before a wrong token counts again.
    pub fn attempt(&self, presented: Option<&str>, client: IpAddr) -> Attempt {
        if presented.is_some_and(|token| self.is_token(token)) {
            return Attempt::Admitted;
        }
        let now = (self.clock)();
        if let Some(retry_after) = self.blocked_for(client, now) {
            return Attempt::Blocked { retry_after };
        }
        self.record_failure(client, now);
        Attempt::Refused
    }

    /// The client a request comes from, as the start limits read it (behind trusted proxies,
    /// IPv6 by prefix).
    pub fn client(&self, peer: Option<IpAddr>, headers: &HeaderMap) -> IpAddr {
        client_ip(peer, headers, &self.trusted_proxies, self.ipv6_prefix)
    }

    /// Whether `presented` is the token: digests of both, compared in constant time.
    fn is_token(&self, presented: &str) -> bool {
        let digest: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        digest.ct_eq(&self.token_digest).into()
    }

    /// Seconds the client must still wait, when it has used up its failures.
    fn blocked_for(&self, client: IpAddr, now: Timestamp) -> Option<u64> {
        let failures = self.failures.lock().ok()?;
        let window = failures.get(&client)?;
        let ends = window.started + FAILURE_WINDOW;
        (window.failures >= MAX_FAILURES && now < ends)
            .then(|| u64::try_from(ends.duration_since(now).as_secs()).unwrap_or(1))
    }

    fn record_failure(&self, client: IpAddr, now: Timestamp) {
        let Ok(mut failures) = self.failures.lock() else {
            return;
        };
        if failures.len() >= MAX_CLIENTS_KEPT {
            failures.retain(|_, w| now < w.started + FAILURE_WINDOW);
        }
        let window = failures.entry(client).or_insert(Window {
            started: now,
            failures: 0,
        });
        if now >= window.started + FAILURE_WINDOW {
            *window = Window {
                started: now,
                failures: 0,
            };
        }
        window.failures = window.failures.saturating_add(1);
    }
}

/// The token, from `Authorization: Bearer <token>` (the scheme in any letter case).
fn bearer(request: &Request) -> Option<&str> {
    let value = request
        .headers()
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// The middleware in front of every partner route.
pub async fn require_token(
    State(door): State<Arc<Door>>,
    request: Request,
    next: Next,
) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0.ip());
    let client = door.client(peer, request.headers());
    let challenge = match bearer(&request) {
        Some(_) => CHALLENGE_INVALID,
        None => CHALLENGE,
    };
    match door.attempt(bearer(&request), client) {
        Attempt::Admitted => return next.run(request).await,
        Attempt::Blocked { retry_after } => {
            tracing::warn!(
                partner.auth = "rate_limited",
                "partner API: too many failed attempts"
            );
            return Problem::too_many_failures(retry_after).into_response();
        }
        Attempt::Refused => {}
    }
    tracing::info!(
        partner.auth = "refused",
        "partner API: missing or wrong token"
    );
    Problem::unauthorized(challenge).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn door(clock: Clock) -> Door {
        let args = crate::config::ServeArgs {
            partner_token: Some("0123456789abcdef0123456789abcdef".into()),
            ..Default::default()
        };
        let settings = crate::config::Settings::from_args(args).unwrap();
        let token = settings.partner_token.unwrap();
        Door::new(&token, &settings.start_limits, clock)
    }

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + secs).unwrap()
    }

    #[test]
    fn only_the_token_itself_opens_the_door() {
        let door = door(Arc::new(|| at(0)));
        assert!(door.is_token("0123456789abcdef0123456789abcdef"));
        assert!(!door.is_token("0123456789abcdef0123456789abcdeF"));
        assert!(!door.is_token("0123456789abcdef"));
        assert!(!door.is_token(""));
    }

    #[test]
    fn a_client_is_blocked_after_its_failures_until_the_window_ends() {
        let door = door(Arc::new(|| at(0)));
        let client: IpAddr = "203.0.113.9".parse().unwrap();
        for _ in 0..MAX_FAILURES {
            assert_eq!(door.blocked_for(client, at(1)), None);
            door.record_failure(client, at(1));
        }
        assert_eq!(door.blocked_for(client, at(1)), Some(60));
        assert_eq!(
            door.blocked_for("203.0.113.10".parse().unwrap(), at(1)),
            None
        );
        assert_eq!(door.blocked_for(client, at(61)), None);
        door.record_failure(client, at(61));
        assert_eq!(door.blocked_for(client, at(61)), None, "a new window");
    }

    #[test]
    fn a_blocked_client_is_refused_without_counting_yet_the_token_still_admits() {
        let door = door(Arc::new(|| at(0)));
        let client: IpAddr = "203.0.113.9".parse().unwrap();
        for _ in 0..MAX_FAILURES {
            assert_eq!(door.attempt(Some("wrong"), client), Attempt::Refused);
        }
        assert_eq!(
            door.attempt(None, client),
            Attempt::Blocked { retry_after: 60 }
        );
        assert_eq!(
            door.attempt(Some("0123456789abcdef0123456789abcdef"), client),
            Attempt::Admitted
        );
    }
}
