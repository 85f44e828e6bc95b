//! The per-client rate limit on starting flows, so `/consent/start` cannot fill the session
//! store. tower_governor counts; this module only says who the client is: the socket's peer,
//! unless that peer is a trusted proxy, in which case the nearest untrusted `X-Forwarded-For`
//! entry (RFC 7239 order: rightmost is the last hop).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, HeaderValue, Request, header};
use axum::response::IntoResponse;
use governor::middleware::NoOpMiddleware;
use ipnet::IpNet;
use tower_governor::GovernorError;
use tower_governor::GovernorLayer;
use tower_governor::governor::{GovernorConfig, GovernorConfigBuilder};
use tower_governor::key_extractor::KeyExtractor;

use crate::error::{AppError, ErrorKind};

/// Who is asking, for the rate limit.
#[derive(Debug, Clone)]
pub struct ClientIp {
    trusted: Arc<[IpNet]>,
}

impl KeyExtractor for ClientIp {
    type Key = IpAddr;

    fn extract<T>(&self, request: &Request<T>) -> Result<IpAddr, GovernorError> {
        let peer = request
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|info| info.0.ip());
        Ok(client_ip(peer, request.headers(), &self.trusted))
    }
}

/// The client's address: the peer, or through trusted proxies the first untrusted hop.
/// Without a peer address (in-process tests) every request counts as one client.
pub fn client_ip(peer: Option<IpAddr>, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let unspecified = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
    let Some(peer) = peer else { return unspecified };
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let hops: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|hop| hop.trim().parse().ok())
        .collect();
    hops.iter()
        .rev()
        .find(|ip| !is_trusted(ip))
        .or(hops.first())
        .copied()
        .unwrap_or(peer)
}

pub type RateLimit = Arc<GovernorConfig<ClientIp, NoOpMiddleware>>;

/// `per_minute` flows per client, all of them at once if need be, then one every 60/n seconds.
pub fn config(per_minute: u32, trusted: &[IpNet]) -> Option<RateLimit> {
    let per_minute = per_minute.max(1);
    GovernorConfigBuilder::default()
        .period(Duration::from_secs(60) / per_minute)
        .burst_size(per_minute)
        .key_extractor(ClientIp {
            trusted: trusted.into(),
        })
        .finish()
        .map(Arc::new)
}

/// The layer for the start route; a refusal is the "too many attempts" page with Retry-After.
pub fn layer(config: &RateLimit) -> GovernorLayer<ClientIp, NoOpMiddleware, Body> {
    GovernorLayer::new(config.clone()).error_handler(|error| match error {
        GovernorError::TooManyRequests { wait_time, .. } => {
            let mut response =
                AppError::with_cause(ErrorKind::TooManyRequests, "rate limit on starting flows")
                    .into_response();
            if let Ok(value) = HeaderValue::from_str(&wait_time.max(1).to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
            response
        }
        other => AppError::with_cause(ErrorKind::Internal, format!("rate limit: {other}"))
            .into_response(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn xff(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", HeaderValue::from_str(value).unwrap());
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_forwards() {
        let trusted = ["10.0.0.0/8".parse().unwrap()];
        let got = client_ip(Some(ip("203.0.113.9")), &xff("198.51.100.1"), &trusted);
        assert_eq!(got, ip("203.0.113.9"));
    }

    #[test]
    fn behind_trusted_proxies_the_nearest_untrusted_hop_is_the_client() {
        let trusted = ["10.0.0.0/8".parse().unwrap()];
        // A client may forge the leftmost entries; only what our proxy appended counts.
        let headers = xff("1.2.3.4, 198.51.100.7, 10.1.1.1");
        let got = client_ip(Some(ip("10.0.0.2")), &headers, &trusted);
        assert_eq!(got, ip("198.51.100.7"));
    }

    #[test]
    fn a_trusted_peer_without_forwarding_is_the_client() {
        let trusted = ["10.0.0.0/8".parse().unwrap()];
        let got = client_ip(Some(ip("10.0.0.2")), &HeaderMap::new(), &trusted);
        assert_eq!(got, ip("10.0.0.2"));
    }

    #[test]
    fn garbage_in_x_forwarded_for_is_ignored() {
        let trusted = ["10.0.0.0/8".parse().unwrap()];
        let got = client_ip(Some(ip("10.0.0.2")), &xff("not-an-ip, <script>"), &trusted);
        assert_eq!(got, ip("10.0.0.2"));
    }

    #[test]
    fn a_limit_of_n_per_minute_allows_n_at_once_then_refuses() {
        let config = config(3, &[]).unwrap();
        let limiter = config.limiter();
        let client = ip("203.0.113.9");
        for _ in 0..3 {
            assert!(limiter.check_key(&client).is_ok());
        }
        assert!(limiter.check_key(&client).is_err());
        assert!(
            limiter.check_key(&ip("203.0.113.10")).is_ok(),
            "limits are per client"
        );
    }
}
