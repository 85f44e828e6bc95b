//! The scenarios. Each starts the servers it measures, drives them, stops them and adds its rows
//! and notes to the report.

pub mod cold_start;
pub mod flow;
pub mod memory;
pub mod start;
