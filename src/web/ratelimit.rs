//! The limits on starting flows, so `/consent/start` cannot fill the session store: a limit per
//! client, and a cap across all clients on this instance, so that no one network (however many
//! addresses it has) can evict people's pending flows from memory or fill Redis.
//! tower_governor and governor count; this module says who the client is: the socket's peer,
//! unless that peer is a trusted proxy, in which case the nearest untrusted `X-Forwarded-For`
//! entry (RFC 7239 order: rightmost is the last hop), with IPv6 clients grouped by a prefix.

use std::future::{Ready, ready};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, HeaderValue, Request, header};
use axum::response::{IntoResponse, Response};
use futures_util::future::Either;
use governor::clock::{Clock, DefaultClock};
use governor::middleware::NoOpMiddleware;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use ipnet::{IpNet, Ipv6Net};
use tower::layer::util::{Identity, Stack};
use tower::{Layer, Service};
use tower_governor::GovernorError;
use tower_governor::GovernorLayer;
use tower_governor::governor::{GovernorConfig, GovernorConfigBuilder};
use tower_governor::key_extractor::KeyExtractor;

use crate::config::StartLimits;
use crate::error::{AppError, ErrorKind};

/// Who is asking, for the rate limit.
#[derive(Debug, Clone)]
pub struct ClientIp {
    trusted: Arc<[IpNet]>,
    ipv6_prefix: u8,
}

impl KeyExtractor for ClientIp {
    type Key = IpAddr;

    fn extract<T>(&self, request: &Request<T>) -> Result<IpAddr, GovernorError> {
        let peer = request
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|info| info.0.ip());
        Ok(client_ip(
            peer,
            request.headers(),
            &self.trusted,
            self.ipv6_prefix,
        ))
    }
}

/// The client's address: the peer, or through trusted proxies the first untrusted hop, walking
/// `X-Forwarded-For` from the right. A hop that is not an IP address (with or without a port)
/// ends the walk at the last trusted address: what lies left of it could have been written by
/// anyone. IPv6 clients are counted per block of `ipv6_prefix` bits: one customer of a provider
/// usually holds a /56 or a /48, and counting per /64 would give them thousands of allowances.
/// Without a peer address (in-process tests) every request counts as one client.
pub fn client_ip(
    peer: Option<IpAddr>,
    headers: &HeaderMap,
    trusted: &[IpNet],
    ipv6_prefix: u8,
) -> IpAddr {
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
    per_block(client, ipv6_prefix)
}

/// The first address of `ip`'s IPv6 block; IPv4 addresses are their own block.
fn per_block(ip: IpAddr, ipv6_prefix: u8) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => {
            // Settings keep the prefix within 32..=64; out of range counts per single address.
            let net = Ipv6Net::new(v6, ipv6_prefix.min(128)).map_or(v6, |net| net.network());
            IpAddr::V6(net)
        }
        IpAddr::V4(_) => ip,
    }
}

type PerClient = Arc<GovernorConfig<ClientIp, NoOpMiddleware>>;

/// The limits on starting flows: per client, across all clients, or both.
#[derive(Clone)]
pub struct RateLimit {
    per_client: Option<PerClient>,
    global: Option<Arc<DefaultDirectRateLimiter>>,
}

impl RateLimit {
    /// The limits the settings ask for; `None` when both are off.
    pub fn new(limits: &StartLimits) -> Option<Self> {
        let per_client = limits.per_client_per_minute.and_then(|per_minute| {
            // `per_minute` flows per client, all at once if need be, then one every 60/n s.
            GovernorConfigBuilder::default()
                .period(Duration::from_secs(60) / per_minute.get())
                .burst_size(per_minute.get())
                .key_extractor(ClientIp {
                    trusted: limits.trusted_proxies.as_slice().into(),
                    ipv6_prefix: limits.ipv6_prefix,
                })
                .finish()
                .map(Arc::new)
        });
        let global = limits
            .flow_starts_per_second
            .map(|n| Arc::new(RateLimiter::direct(Quota::per_second(n))));
        (per_client.is_some() || global.is_some()).then_some(Self { per_client, global })
    }

    /// Forgets clients gone quiet, so the per-client table does not grow without end.
    pub fn retain_recent(&self) {
        if let Some(config) = &self.per_client {
            config.limiter().retain_recent();
        }
    }
}

/// The layers for the start route: per client outermost, so one client over its limit is
/// refused before it spends the shared allowance; a refusal is the "too many attempts" page
/// with Retry-After.
pub fn layer(
    config: &RateLimit,
) -> Stack<GlobalCap, tower::util::Either<GovernorLayer<ClientIp, NoOpMiddleware, Body>, Identity>>
{
    let per_client = match &config.per_client {
        Some(per_client) => tower::util::Either::Left(
            GovernorLayer::new(per_client.clone()).error_handler(|error| match error {
                GovernorError::TooManyRequests { wait_time, .. } => {
                    too_many("rate limit on starting flows", wait_time)
                }
                other => {
                    AppError::caused_by(ErrorKind::Internal, "rate limit", other).into_response()
                }
            }),
        ),
        None => tower::util::Either::Right(Identity::new()),
    };
    Stack::new(
        GlobalCap {
            limiter: config.global.clone(),
        },
        per_client,
    )
}

fn too_many(cause: &'static str, wait_secs: u64) -> Response {
    let mut response = AppError::with_cause(ErrorKind::TooManyRequests, cause).into_response();
    if let Ok(value) = HeaderValue::from_str(&wait_secs.max(1).to_string()) {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

/// The cap on flows started per second by all clients together on this instance.
#[derive(Clone)]
pub struct GlobalCap {
    limiter: Option<Arc<DefaultDirectRateLimiter>>,
}

impl<S> Layer<S> for GlobalCap {
    type Service = GlobalCapService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        GlobalCapService {
            inner,
            limiter: self.limiter.clone(),
        }
    }
}

#[derive(Clone)]
pub struct GlobalCapService<S> {
    inner: S,
    limiter: Option<Arc<DefaultDirectRateLimiter>>,
}

impl<S, B> Service<Request<B>> for GlobalCapService<S>
where
    S: Service<Request<B>, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Either<S::Future, Ready<Result<Response, S::Error>>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        if let Some(limiter) = &self.limiter
            && let Err(not_until) = limiter.check()
        {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            // Whole seconds, rounded up: Retry-After has no fractions.
            let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            return Either::Right(ready(Ok(too_many(
                "cap on flows started across all clients",
                secs,
            ))));
        }
        Either::Left(self.inner.call(request))
    }
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
        let got = client_ip(Some(ip("203.0.113.9")), &xff("198.51.100.1"), &trusted, 64);
        assert_eq!(got, ip("203.0.113.9"));
    }

    #[test]
    fn behind_trusted_proxies_the_nearest_untrusted_hop_is_the_client() {
        let trusted = ["10.0.0.0/8".parse().unwrap()];
        // A client may forge the leftmost entries; only what our proxy appended counts.
        let headers = xff("1.2.3.4, 198.51.100.7, 10.1.1.1");
        let got = client_ip(Some(ip("10.0.0.2")), &headers, &trusted, 64);
        assert_eq!(got, ip("198.51.100.7"));
    }

    #[test]
    fn a_trusted_peer_without_forwarding_is_the_client() {
        let trusted = ["10.0.0.0/8".parse().unwrap()];
        let got = client_ip(Some(ip("10.0.0.2")), &HeaderMap::new(), &trusted, 64);
        assert_eq!(got, ip("10.0.0.2"));
    }

    #[test]
    fn garbage_in_x_forwarded_for_is_ignored() {
        let trusted = ["10.0.0.0/8".parse().unwrap()];
        let got = client_ip(
            Some(ip("10.0.0.2")),
            &xff("not-an-ip, <script>"),
            &trusted,
            64,
        );
        assert_eq!(got, ip("10.0.0.2"));
    }

    #[test]
    fn a_hop_that_is_not_an_address_stops_the_walk_before_forged_entries() {
        let trusted = ["10.0.0.0/8".parse().unwrap()];
        let headers = xff("198.51.100.77, unknown");
        let got = client_ip(Some(ip("10.0.0.2")), &headers, &trusted, 64);
        assert_eq!(got, ip("10.0.0.2"));
    }

    #[test]
    fn a_proxy_that_writes_ip_and_port_still_names_the_client() {
        let trusted = ["10.0.0.0/8".parse().unwrap()];
        let headers = xff("198.51.100.77, 203.0.113.5:51234");
        let got = client_ip(Some(ip("10.0.0.2")), &headers, &trusted, 64);
        assert_eq!(got, ip("203.0.113.5"));
        let v6 = xff("[2001:db8:1:2::7]:443");
        let got = client_ip(Some(ip("10.0.0.2")), &v6, &trusted, 64);
        assert_eq!(got, ip("2001:db8:1:2::"));
    }

    #[test]
    fn a_trusted_proxy_seen_through_an_ipv6_socket_is_still_trusted() {
        let trusted = ["10.0.0.0/8".parse().unwrap()];
        let got = client_ip(
            Some(ip("::ffff:10.0.0.2")),
            &xff("198.51.100.8"),
            &trusted,
            64,
        );
        assert_eq!(got, ip("198.51.100.8"));
    }

    #[test]
    fn ipv6_clients_are_counted_per_block_of_the_configured_prefix() {
        let at = |addr: &str, prefix| client_ip(Some(ip(addr)), &HeaderMap::new(), &[], prefix);
        // Per /64: two hosts of one /64 are one client, the next /64 another.
        assert_eq!(at("2001:db8:1:2::1", 64), at("2001:db8:1:2:ffff::9", 64));
        assert_ne!(at("2001:db8:1:2::1", 64), at("2001:db8:1:3::1", 64));
        // Per /56 (the default): the 256 /64s of one /56 are one client.
        assert_eq!(at("2001:db8:1:200::1", 56), ip("2001:db8:1:200::"));
        assert_eq!(at("2001:db8:1:2ff:1::1", 56), ip("2001:db8:1:200::"));
        assert_ne!(at("2001:db8:1:200::1", 56), at("2001:db8:1:300::1", 56));
        // Per /48: a whole site is one client.
        assert_eq!(at("2001:db8:1:ffff::1", 48), ip("2001:db8:1::"));
        assert_eq!(at("2001:db8:1:ffff::1", 32), ip("2001:db8::"));
        // IPv4 addresses are their own block, mapped or not.
        assert_eq!(at("::ffff:203.0.113.9", 48), ip("203.0.113.9"));
        assert_eq!(at("203.0.113.9", 32), ip("203.0.113.9"));
    }

    #[test]
    fn a_forwarded_ipv6_client_is_counted_per_block_too() {
        let trusted = ["10.0.0.0/8".parse().unwrap()];
        let got = client_ip(Some(ip("10.0.0.2")), &xff("2001:db8:7:42::5"), &trusted, 56);
        assert_eq!(got, ip("2001:db8:7::"));
    }

    fn limits(per_minute: u32, per_second: u32) -> StartLimits {
        StartLimits {
            per_client_per_minute: std::num::NonZeroU32::new(per_minute),
            ipv6_prefix: 56,
            flow_starts_per_second: std::num::NonZeroU32::new(per_second),
            trusted_proxies: vec![],
        }
    }

    #[test]
    fn a_limit_of_n_per_minute_allows_n_at_once_then_refuses() {
        let config = RateLimit::new(&limits(3, 0)).unwrap();
        assert!(config.global.is_none());
        let limiter = config.per_client.as_ref().unwrap().limiter();
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

    #[test]
    fn the_cap_across_clients_allows_n_at_once_then_refuses() {
        let config = RateLimit::new(&limits(0, 4)).unwrap();
        assert!(config.per_client.is_none());
        let cap = config.global.as_ref().unwrap();
        for _ in 0..4 {
            assert!(cap.check().is_ok());
        }
        assert!(cap.check().is_err());
    }

    #[test]
    fn with_both_limits_off_there_is_nothing_to_apply() {
        assert!(RateLimit::new(&limits(0, 0)).is_none());
    }
}
