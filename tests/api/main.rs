//! HTTP tests over real sockets: one binary, one module per behaviour area.

mod simulator;
