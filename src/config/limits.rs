//! The limits on starting flows, which keep one client (or one network) from filling the
//! session store: per client per minute, how IPv6 clients are grouped, a cap across all clients
//! per second, and which proxies may name the client.

use std::num::NonZeroU32;

use ipnet::IpNet;

use super::args::ServeArgs;
use super::parse::parse_in_range;
use super::{ConfigError, vars};

const DEFAULT_PER_MINUTE: u32 = 30;
/// A /56 is what many providers give one customer; a /64 would let one /48 be 65 536 clients.
const DEFAULT_IPV6_PREFIX: u8 = 56;
/// Far above what people start on one instance, far below what fills memory in a minute.
const DEFAULT_FLOW_STARTS_PER_SECOND: u32 = 200;

/// The limits on `/consent/start`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartLimits {
    /// Flows one client may start per minute; `None` means no limit.
    pub per_client_per_minute: Option<NonZeroU32>,
    /// IPv6 clients are counted per block of this many leading bits (32 to 64).
    pub ipv6_prefix: u8,
    /// Flows all clients together may start per second on this instance; `None` means no cap.
    pub flow_starts_per_second: Option<NonZeroU32>,
    /// Proxies whose X-Forwarded-For names the client.
    pub trusted_proxies: Vec<IpNet>,
}

pub(crate) fn start_limits(args: &ServeArgs) -> Result<StartLimits, ConfigError> {
    let per_client_per_minute = parse_in_range(
        vars::RATE_LIMIT_PER_MINUTE,
        args.rate_limit_per_minute.as_deref(),
        0..=100_000,
        " (0: no limit)",
    )?
    .map_or(NonZeroU32::new(DEFAULT_PER_MINUTE), NonZeroU32::new);
    let ipv6_prefix = parse_in_range(
        vars::RATE_LIMIT_IPV6_PREFIX,
        args.rate_limit_ipv6_prefix.as_deref(),
        32..=64,
        " (a prefix length)",
    )?
    .unwrap_or(DEFAULT_IPV6_PREFIX);
    let flow_starts_per_second = parse_in_range(
        vars::FLOW_STARTS_PER_SECOND,
        args.flow_starts_per_second.as_deref(),
        0..=1_000_000,
        " (0: no cap)",
    )?
    .map_or(
        NonZeroU32::new(DEFAULT_FLOW_STARTS_PER_SECOND),
        NonZeroU32::new,
    );
    let trusted_proxies = args
        .trusted_proxies
        .as_deref()
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<IpNet>()
                .or_else(|_| s.parse::<std::net::IpAddr>().map(IpNet::from))
                .map_err(|e| {
                    ConfigError::caused(
                        vars::TRUSTED_PROXIES,
                        format!("'{s}' is not an IP address or a CIDR range"),
                        e,
                    )
                })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(StartLimits {
        per_client_per_minute,
        ipv6_prefix,
        flow_starts_per_second,
        trusted_proxies,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(change: impl FnOnce(&mut ServeArgs)) -> Result<StartLimits, ConfigError> {
        let mut args = ServeArgs::default();
        change(&mut args);
        start_limits(&args)
    }

    #[test]
    fn defaults_count_ipv6_per_56_and_cap_starts_at_200_a_second() {
        let l = limits(|_| {}).unwrap();
        assert_eq!(l.per_client_per_minute, NonZeroU32::new(30));
        assert_eq!(l.ipv6_prefix, 56);
        assert_eq!(l.flow_starts_per_second, NonZeroU32::new(200));
        assert!(l.trusted_proxies.is_empty());
    }

    #[test]
    fn zero_switches_a_limit_off() {
        let l = limits(|a| {
            a.rate_limit_per_minute = Some("0".into());
            a.flow_starts_per_second = Some("0".into());
        })
        .unwrap();
        assert_eq!(l.per_client_per_minute, None);
        assert_eq!(l.flow_starts_per_second, None);
    }

    #[test]
    fn the_ipv6_prefix_is_taken_from_32_to_64() {
        for (raw, expected) in [("32", 32), ("48", 48), ("64", 64)] {
            let l = limits(|a| a.rate_limit_ipv6_prefix = Some(raw.into())).unwrap();
            assert_eq!(l.ipv6_prefix, expected);
        }
        for raw in ["31", "65", "128", "/56", "fifty-six"] {
            let err = limits(|a| a.rate_limit_ipv6_prefix = Some(raw.into())).unwrap_err();
            assert_eq!(err.variable, vars::RATE_LIMIT_IPV6_PREFIX, "{raw}");
        }
    }

    #[test]
    fn a_bad_flow_start_cap_is_named() {
        for raw in ["-1", "many", "1000001"] {
            let err = limits(|a| a.flow_starts_per_second = Some(raw.into())).unwrap_err();
            assert_eq!(err.variable, vars::FLOW_STARTS_PER_SECOND, "{raw}");
        }
        let l = limits(|a| a.flow_starts_per_second = Some("5".into())).unwrap();
        assert_eq!(l.flow_starts_per_second, NonZeroU32::new(5));
    }

    #[test]
    fn proxies_are_addresses_or_ranges() {
        let l = limits(|a| a.trusted_proxies = Some("10.0.0.0/8, 192.168.1.7,".into())).unwrap();
        assert_eq!(l.trusted_proxies.len(), 2);
        let err = limits(|a| a.trusted_proxies = Some("10.0.0.0/33".into())).unwrap_err();
        assert_eq!(err.variable, vars::TRUSTED_PROXIES);
    }
}
