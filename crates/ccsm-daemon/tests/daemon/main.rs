//! The daemon through its API, with the real Claude Code CLI and the scripted
//! model (and the fake CLI for faults the real one cannot make on demand).

mod contract;
mod harness;

mod agents;
mod browser;
mod fleet;
mod live;
mod manage;
mod metrics;
pub mod recovery;
mod resources;
mod security;
mod seed;
mod team;
