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

/// The client's address: the peer, or through trusted proxies the first untrusted hop, walking
/// `X-Forwarded-For` from the right. A hop that is not an IP address (with or without a port)
/// ends the walk at the last trusted address: what lies left of it could have been written by
/// anyone. IPv6 clients
/// are counted per /64, the block one host usually has. Without a peer address (in-process
/// tests) every request counts as one client.
pub fn client_ip(peer: Option<IpAddr>, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let Some(peer) = peer else {
        return IpAddr::V4(Ipv4Addr::UNSPECIFIED);
    };
    // An IPv4 client seen through an IPv6 socket (::ffff:a.b.c.d) is the IPv4 address.
    let peer = peer.to_canonical();
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    let mut client = peer;
    if is_trusted(&peer) {
        let hops: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .collect();
        for hop in hops.iter().rev() {
            // Some proxies write ip:port (or [v6]:port); anything else ends the walk.
            let parsed = hop
                .parse::<IpAddr>()
                .or_else(|_| hop.parse::<SocketAddr>().map(|s| s.ip()));
            let Ok(ip) = parsed else { break };
            let ip = ip.to_canonical();
            client = ip;
            if !is_trusted(&ip) {
                break;
            }
        }
    }
    per_block(client)
}

fn per_block(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) if v6.to_ipv4_mapped().is_none() => {
            let segments = v6.segments();
            IpAddr::V6(std::net::Ipv6Addr::new(
                segments[0],
                segments[1],
                segments[2],
                segments[3],
                0,
                0,
                0,
                0,
            ))
        }
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    }
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
        other => AppError::caused_by(ErrorKind::Internal, "rate limit", other).into_response(),
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
    fn a_hop_that_is_not_an_address_stops_the_walk_before_forged_entries() {
        let trusted = ["10.0.0.0/8".parse().unwrap()];
        let headers = xff("198.51.100.77, unknown");
        let got = client_ip(Some(ip("10.0.0.2")), &headers, &trusted);
        assert_eq!(got, ip("10.0.0.2"));
    }

    #[test]
    fn a_proxy_that_writes_ip_and_port_still_names_the_client() {
        let trusted = ["10.0.0.0/8".parse().unwrap()];
        let headers = xff("198.51.100.77, 203.0.113.5:51234");
        let got = client_ip(Some(ip("10.0.0.2")), &headers, &trusted);
        assert_eq!(got, ip("203.0.113.5"));
        let v6 = xff("[2001:db8:1:2::7]:443");
        let got = client_ip(Some(ip("10.0.0.2")), &v6, &trusted);
        assert_eq!(got, ip("2001:db8:1:2::"));
    }

    #[test]
    fn a_trusted_proxy_seen_through_an_ipv6_socket_is_still_trusted() {
        let trusted = ["10.0.0.0/8".parse().unwrap()];
        let got = client_ip(Some(ip("::ffff:10.0.0.2")), &xff("198.51.100.8"), &trusted);
        assert_eq!(got, ip("198.51.100.8"));
    }

    #[test]
    fn ipv6_clients_are_counted_per_64_block() {
        let a = client_ip(Some(ip("2001:db8:1:2::1")), &HeaderMap::new(), &[]);
        let b = client_ip(Some(ip("2001:db8:1:2:ffff::9")), &HeaderMap::new(), &[]);
        let c = client_ip(Some(ip("2001:db8:1:3::1")), &HeaderMap::new(), &[]);
        assert_eq!(a, b);
        assert_ne!(a, c);
        let mapped = client_ip(Some(ip("::ffff:203.0.113.9")), &HeaderMap::new(), &[]);
        assert_eq!(mapped, ip("203.0.113.9"));
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
