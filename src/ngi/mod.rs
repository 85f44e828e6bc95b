//! NGI: the client for its authorization server and debt API, client-credentials tokens, the
//! consent feed, and its wire format.

pub mod agreement;
mod answer;
pub mod client;
pub mod consents;
pub mod credentials;
mod error;
pub mod feed;
pub mod id_token;
pub mod wire;
