//! Sessions as persistence, apart from HTTP: where they live (this process, or Redis shared by
//! every instance), how they are sealed at rest, the record of states already used, and one typed
//! owner for each key a session holds. `web` reads and writes sessions only through this module.

pub mod backend;
mod claims;
pub mod data;
pub mod sealed;

pub use backend::SessionBackend;
