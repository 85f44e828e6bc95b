//! An NGI look-alike that runs on its own port (work in progress: the rules it checks).
#![allow(dead_code)]

mod client_auth;
mod nin;
mod params;
mod pkce;
mod random;
mod scope;
mod store;
