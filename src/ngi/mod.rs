//! NGI: the client for its authorization server and debt API, and its wire format.

pub mod client;
pub mod wire;
