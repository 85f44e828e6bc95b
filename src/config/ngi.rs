//! Which NGI the site talks to: the environment table (simulator, preprod, prod), host
//! overrides, the issuer, and the client credentials — and the rule that the simulator, chosen
//! by default, only ever serves the person at this machine.

use std::net::SocketAddr;

use oauth2::{ClientId, ClientSecret};
use url::Url;

use super::args::{DEFAULT_SIMULATOR_BIND, ServeArgs};
use super::parse::{is_loopback, parse_addr, parse_base_url, secret_value};
use super::{ConfigError, vars};

/// The client the embedded simulator registers, so the demo runs with nothing configured.
pub const DEMO_CLIENT_ID: &str = "ngi-consent-demo";
/// The demo client's secret. It only opens the local simulator; NGI issues real ones.
pub const DEMO_CLIENT_SECRET: &str = "demo-secret-for-the-local-simulator";
/// The demo client's name as the simulator's consent page shows it.
pub const DEMO_CLIENT_NAME: &str = "Demobanken (ngi-consent)";

/// One row of NGI's environments: its name, and its hosts when it is a real NGI.
struct Environment {
    name: &'static str,
    /// Authorization server, API host and issuer; `None` for the simulator.
    hosts: Option<NgiHosts>,
}

struct NgiHosts {
    access: &'static str,
    api: &'static str,
    issuer: &'static str,
}

const ENVIRONMENTS: [Environment; 3] = [
    Environment {
        name: "simulator",
        hosts: None,
    },
    Environment {
        name: "preprod",
        hosts: Some(NgiHosts {
            access: "https://access-preprod.norskgjeld.no",
            api: "https://api-preprod.norskgjeld.no",
            issuer: "https://access-preprod.norskgjeld.no/",
        }),
    },
    Environment {
        name: "prod",
        hosts: Some(NgiHosts {
            access: "https://access.norskgjeld.no",
            api: "https://api.norskgjeld.no",
            issuer: "https://access.norskgjeld.no/",
        }),
    },
];

/// Which NGI the site talks to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NgiTarget {
    /// The embedded simulator, started beside the site on this address.
    Simulator { bind: SocketAddr },
    /// A real NGI environment (or any server at the given hosts).
    Remote { name: String, access: Url, api: Url },
}

fn environment(args: &ServeArgs) -> Result<&'static Environment, ConfigError> {
    let name = args
        .ngi_env
        .as_deref()
        .map(str::trim)
        .unwrap_or("simulator");
    ENVIRONMENTS
        .iter()
        .find(|env| env.name == name)
        .ok_or_else(|| {
            ConfigError::new(
                vars::NGI_ENV,
                format!("'{name}' is not simulator, preprod or prod"),
            )
        })
}

pub(crate) fn target(args: &ServeArgs) -> Result<NgiTarget, ConfigError> {
    let env = environment(args)?;
    let name = if env.hosts.is_some() {
        env.name
    } else {
        "custom"
    };
    let access = args
        .ngi_access_url
        .as_deref()
        .or(env.hosts.as_ref().map(|h| h.access));
    let api = args
        .ngi_api_url
        .as_deref()
        .or(env.hosts.as_ref().map(|h| h.api));
    match (access, api) {
        (None, None) => Ok(NgiTarget::Simulator {
            bind: parse_addr(
                vars::SIMULATOR_BIND,
                args.simulator_bind.as_deref(),
                DEFAULT_SIMULATOR_BIND,
            )?,
        }),
        (Some(_), None) => Err(ConfigError::new(
            vars::NGI_API_URL,
            "required when NGI_ACCESS_URL is set",
        )),
        (None, Some(_)) => Err(ConfigError::new(
            vars::NGI_ACCESS_URL,
            "required when NGI_API_URL is set",
        )),
        (Some(access), Some(api)) => Ok(NgiTarget::Remote {
            name: name.to_owned(),
            access: parse_base_url(vars::NGI_ACCESS_URL, access)?,
            api: parse_base_url(vars::NGI_API_URL, api)?,
        }),
    }
}

/// The issuer `iss` must equal: `NGI_ISSUER` as typed, else NGI's own for preprod and prod on
/// their own hosts, else `None` (other hosts are asked through discovery at start-up).
pub(crate) fn issuer(args: &ServeArgs) -> Result<Option<String>, ConfigError> {
    match args.ngi_issuer.as_deref().map(str::trim) {
        None | Some("") => {
            if args.ngi_access_url.is_some() {
                return Ok(None);
            }
            Ok(environment(args)?
                .hosts
                .as_ref()
                .map(|h| h.issuer.to_owned()))
        }
        Some(raw) => {
            Url::parse(raw)
                .map_err(|e| ConfigError::caused(vars::NGI_ISSUER, "not an absolute URL", e))?;
            // Kept as typed: RFC 9207 compares issuers as plain strings, trailing slash included.
            Ok(Some(raw.to_owned()))
        }
    }
}

pub(crate) fn client_credentials(
    args: &ServeArgs,
    simulated: bool,
) -> Result<(ClientId, ClientSecret), ConfigError> {
    let id = match args.ngi_client_id.as_deref().map(str::trim) {
        Some(id) if !id.is_empty() => id.to_owned(),
        _ if simulated => DEMO_CLIENT_ID.to_owned(),
        _ => {
            return Err(ConfigError::new(
                vars::NGI_CLIENT_ID,
                "required outside simulator mode: the client id NGI issued",
            ));
        }
    };
    let secret = match secret_value(
        vars::NGI_CLIENT_SECRET,
        vars::NGI_CLIENT_SECRET_FILE,
        args.ngi_client_secret.as_deref(),
        args.ngi_client_secret_file.as_deref(),
    )? {
        Some(secret) => secret,
        None if simulated => DEMO_CLIENT_SECRET.to_owned(),
        None => {
            return Err(ConfigError::new(
                vars::NGI_CLIENT_SECRET,
                "required outside simulator mode: the client secret NGI issued \
                 (or NGI_CLIENT_SECRET_FILE)",
            ));
        }
    };
    if secret.is_empty() {
        return Err(ConfigError::new(vars::NGI_CLIENT_SECRET, "is empty"));
    }
    Ok((ClientId::new(id), ClientSecret::new(secret)))
}

/// With `NGI_ENV` unset the embedded simulator runs, serving fixture debt to whoever reaches
/// it. That is the local demo and nothing else: an address others can reach, or credentials
/// NGI issued, mean someone meant to serve real people and forgot to say which NGI, so start-up
/// stops rather than run the simulator for them. `NGI_ENV=simulator` runs a shared demo.
pub(crate) fn check_implicit_simulator(
    args: &ServeArgs,
    target: &NgiTarget,
    bind: SocketAddr,
    public_url: Option<&Url>,
    client_id: &ClientId,
    client_secret: &ClientSecret,
) -> Result<(), ConfigError> {
    if args.ngi_env.is_some() || !matches!(target, NgiTarget::Simulator { .. }) {
        return Ok(());
    }
    let simulator_bind = match target {
        NgiTarget::Simulator { bind } => Some(*bind),
        NgiTarget::Remote { .. } => None,
    };
    let reason = if !bind.ip().is_loopback() {
        format!("APP_BIND {bind} is not a loopback address")
    } else if let Some(sim) = simulator_bind.filter(|sim| !sim.ip().is_loopback()) {
        format!("SIMULATOR_BIND {sim} is not a loopback address")
    } else if let Some(url) = public_url.filter(|url| !is_loopback(url)) {
        format!("PUBLIC_URL {url} is not a loopback address")
    } else if client_id.as_str() != DEMO_CLIENT_ID || client_secret.secret() != DEMO_CLIENT_SECRET {
        "client credentials other than the demo's are set".to_owned()
    } else {
        return Ok(());
    };
    Err(ConfigError::new(
        vars::NGI_ENV,
        format!(
            "not set, and {reason}: set NGI_ENV=preprod or NGI_ENV=prod to use NGI, or \
             NGI_ENV=simulator to serve the simulator's fixture debt as a shared demo"
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn demo_on(bind: &str, public_url: Option<&str>) -> ServeArgs {
        ServeArgs {
            app_bind: Some(bind.into()),
            public_url: public_url.map(Into::into),
            ..ServeArgs::default()
        }
    }

    fn check(args: &ServeArgs) -> Result<(), ConfigError> {
        let target = target(args)?;
        let bind = parse_addr(vars::APP_BIND, args.app_bind.as_deref(), "127.0.0.1:3000")?;
        let public_url = args.public_url.as_deref().map(|u| Url::parse(u).unwrap());
        let (id, secret) = client_credentials(args, true)?;
        check_implicit_simulator(args, &target, bind, public_url.as_ref(), &id, &secret)
    }

    #[test]
    fn the_implicit_simulator_runs_on_loopback_with_the_demo_client() {
        for (bind, url) in [
            ("127.0.0.1:3000", None),
            ("[::1]:3000", Some("http://localhost:3000")),
            ("127.0.0.1:3000", Some("http://127.0.0.1:3000")),
        ] {
            assert!(check(&demo_on(bind, url)).is_ok(), "{bind} {url:?}");
        }
    }

    #[test]
    fn the_implicit_simulator_refuses_an_address_others_can_reach() {
        for (bind, url, named) in [
            ("0.0.0.0:3000", None, "APP_BIND"),
            ("192.0.2.10:3000", None, "APP_BIND"),
            (
                "127.0.0.1:3000",
                Some("https://lan.example.no"),
                "PUBLIC_URL",
            ),
        ] {
            let err = check(&demo_on(bind, url)).unwrap_err();
            assert_eq!(err.variable, vars::NGI_ENV);
            assert!(err.problem.contains(named), "{err}");
            assert!(err.problem.contains("NGI_ENV=simulator"), "{err}");
        }
    }

    #[test]
    fn the_implicit_simulator_refuses_to_listen_beyond_loopback_itself() {
        for sim in ["0.0.0.0:3001", "192.0.2.10:3001"] {
            let args = ServeArgs {
                simulator_bind: Some(sim.into()),
                ..demo_on("127.0.0.1:3000", None)
            };
            let err = check(&args).unwrap_err();
            assert_eq!(err.variable, vars::NGI_ENV);
            assert!(err.problem.contains("SIMULATOR_BIND"), "{err}");
        }
        let explicit = ServeArgs {
            ngi_env: Some("simulator".into()),
            simulator_bind: Some("0.0.0.0:3001".into()),
            ..demo_on("0.0.0.0:3000", None)
        };
        assert!(check(&explicit).is_ok());
    }

    #[test]
    fn the_implicit_simulator_refuses_real_client_credentials() {
        let cases: [fn(&mut ServeArgs); 3] = [
            |a| a.ngi_client_id = Some("real-client".into()),
            |a| a.ngi_client_secret = Some("real-secret".into()),
            |a| {
                a.ngi_client_id = Some(DEMO_CLIENT_ID.into());
                a.ngi_client_secret = Some("real-secret".into());
            },
        ];
        for change in cases {
            let mut args = demo_on("127.0.0.1:3000", None);
            change(&mut args);
            let err = check(&args).unwrap_err();
            assert_eq!(err.variable, vars::NGI_ENV);
            assert!(err.problem.contains("credentials"), "{err}");
        }
    }

    #[test]
    fn an_explicit_simulator_may_serve_a_shared_demo() {
        let mut args = demo_on("0.0.0.0:3000", Some("https://demo.example.no"));
        args.ngi_env = Some("simulator".into());
        args.ngi_client_id = Some("shared-demo".into());
        args.ngi_client_secret = Some("shared-secret".into());
        assert!(check(&args).is_ok());
    }

    #[test]
    fn the_environment_table_names_ngis_hosts_and_issuers() {
        for (env, access, expected_issuer) in [
            (
                "preprod",
                "https://access-preprod.norskgjeld.no/",
                "https://access-preprod.norskgjeld.no/",
            ),
            (
                "prod",
                "https://access.norskgjeld.no/",
                "https://access.norskgjeld.no/",
            ),
        ] {
            let args = ServeArgs {
                ngi_env: Some(env.into()),
                ..ServeArgs::default()
            };
            let NgiTarget::Remote {
                name, access: got, ..
            } = target(&args).unwrap()
            else {
                panic!("{env} is not remote")
            };
            assert_eq!(name, env);
            assert_eq!(got.as_str(), access);
            assert_eq!(issuer(&args).unwrap().as_deref(), Some(expected_issuer));
        }
    }
}
