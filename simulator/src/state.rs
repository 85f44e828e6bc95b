//! State shared by the handlers and the [`SimulatorHandle`](super::SimulatorHandle).

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::AtomicUsize;
use std::sync::{Mutex, MutexGuard, PoisonError};

use jiff::{SignedDuration, Timestamp};

use super::client_credentials::{Audience, ClientTokens};
use super::id_token::{IdTokenFault, Signer};
use super::min_gjeld::PersonSessions;
use super::store::{Store, later};
use super::{
    ClientRegistration, DebtRequestSeen, Endpoint, Fault, FeedEnd, SimulatorConfig,
    TokenRequestSeen,
};

/// How many issued codes and tokens the handle remembers for tests.
pub(crate) const MAX_REMEMBERED: usize = 1000;

#[derive(Debug, Default)]
pub(crate) struct Issued {
    pub(crate) codes: VecDeque<String>,
    pub(crate) tokens: VecDeque<String>,
}

fn remember(list: &mut VecDeque<String>, value: String) {
    if list.len() >= MAX_REMEMBERED {
        list.pop_front();
    }
    list.push_back(value);
}

impl Issued {
    pub(crate) fn code(&mut self, code: String) {
        remember(&mut self.codes, code);
    }

    pub(crate) fn token(&mut self, token: String) {
        remember(&mut self.tokens, token);
    }
}

pub(crate) struct Shared {
    pub(crate) base_url: url::Url,
    pub(crate) issuer: String,
    pub(crate) clients: HashMap<String, ClientRegistration>,
    pub(crate) send_iss: bool,
    pub(crate) store: Mutex<Store>,
    pub(crate) faults: Mutex<HashMap<Endpoint, Fault>>,
    pub(crate) token_requests: AtomicUsize,
    pub(crate) debt_requests: AtomicUsize,
    /// Requests to `/v1/debt/{id}` and `/v1/debt/{id}/status`, any method and outcome.
    pub(crate) consent_requests: AtomicUsize,
    /// Requests to `/v1/consent/agreement`, any outcome.
    pub(crate) agreement_requests: AtomicUsize,
    pub(crate) last_token: Mutex<Option<TokenRequestSeen>>,
    pub(crate) last_debt: Mutex<Option<DebtRequestSeen>>,
    pub(crate) issued: Mutex<Issued>,
    pub(crate) clock_offset: Mutex<SignedDuration>,
    /// The audiences each client may ask client-credentials tokens for.
    pub(crate) client_audiences: Mutex<HashMap<String, Vec<Audience>>>,
    pub(crate) client_tokens: Mutex<ClientTokens>,
    pub(crate) client_credentials_requests: Mutex<HashMap<Audience, usize>>,
    /// Requests to the three feed calls, any outcome.
    pub(crate) feed_requests: AtomicUsize,
    /// What a feed page's `endSequenceNr` says.
    pub(crate) feed_end: Mutex<FeedEnd>,
    /// People logged in at Min gjeld.
    pub(crate) person_sessions: Mutex<PersonSessions>,
    /// The ID-token keys (embedded test keys) and how tokens are issued now.
    pub(crate) signer: Signer,
    pub(crate) id_tokens: Mutex<IdTokenSettings>,
    /// `GET /.well-known/jwks.json` calls received.
    pub(crate) jwks_requests: AtomicUsize,
}

/// How the simulator answers `openid` now: on by default, as NGI's scope reference describes.
#[derive(Clone, Copy, Debug)]
pub(crate) struct IdTokenSettings {
    pub(crate) on: bool,
    pub(crate) rotated: bool,
    pub(crate) fault: Option<IdTokenFault>,
}

impl Default for IdTokenSettings {
    fn default() -> Self {
        Self {
            on: true,
            rotated: false,
            fault: None,
        }
    }
}

/// A poisoned lock only means another request panicked while holding it; the data is still usable.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    pub(crate) fn new(config: SimulatorConfig, base_url: url::Url) -> std::io::Result<Shared> {
        let is_origin = matches!(base_url.scheme(), "http" | "https")
            && base_url.has_host()
            && base_url.path() == "/"
            && base_url.query().is_none()
            && base_url.fragment().is_none();
        if !is_origin {
            // The routes live at the root, so the issuer and endpoints must too.
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "the simulator's base URL must be an http(s) origin without path",
            ));
        }
        let issuer = format!("{}/", base_url.as_str().trim_end_matches('/'));
        let clients: HashMap<String, ClientRegistration> = config
            .clients
            .into_iter()
            .map(|c| (c.client_id.clone(), c))
            .collect();
        // Every registered client starts with every audience, as NGI's demo client has them.
        let client_audiences = clients
            .keys()
            .map(|id| (id.clone(), Audience::ALL.to_vec()))
            .collect();
        Ok(Shared {
            base_url,
            issuer,
            clients,
            send_iss: config.send_iss,
            store: Mutex::default(),
            faults: Mutex::default(),
            token_requests: AtomicUsize::new(0),
            debt_requests: AtomicUsize::new(0),
            consent_requests: AtomicUsize::new(0),
            agreement_requests: AtomicUsize::new(0),
            last_token: Mutex::default(),
            last_debt: Mutex::default(),
            issued: Mutex::default(),
            clock_offset: Mutex::new(SignedDuration::ZERO),
            client_audiences: Mutex::new(client_audiences),
            client_tokens: Mutex::default(),
            client_credentials_requests: Mutex::default(),
            feed_requests: AtomicUsize::new(0),
            feed_end: Mutex::new(FeedEnd::OfPage),
            person_sessions: Mutex::default(),
            signer: Signer::new()
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?,
            id_tokens: Mutex::default(),
            jwks_requests: AtomicUsize::new(0),
        })
    }

    /// The simulator's clock: real time plus what tests advanced it by.
    pub(crate) fn now(&self) -> Timestamp {
        later(Timestamp::now(), *lock(&self.clock_offset))
    }

    /// An absolute URL on this simulator, e.g. `endpoint("/oauth2/token")`.
    pub(crate) fn endpoint(&self, path: &str) -> String {
        format!("{}{}", self.issuer.trim_end_matches('/'), path)
    }

    pub(crate) fn audiences_of(&self, client_id: &str) -> Vec<Audience> {
        lock(&self.client_audiences)
            .get(client_id)
            .cloned()
            .unwrap_or_default()
    }

    pub(crate) fn count_client_credentials(&self, audiences: &[Audience]) {
        let mut counts = lock(&self.client_credentials_requests);
        for &audience in audiences {
            *counts.entry(audience).or_default() += 1;
        }
    }

    pub(crate) fn fault(&self, endpoint: Endpoint) -> Option<Fault> {
        lock(&self.faults).get(&endpoint).cloned()
    }
}
