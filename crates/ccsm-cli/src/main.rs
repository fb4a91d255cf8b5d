//! `ccsm`: the Claude Code session manager.

use std::process::ExitCode;

use clap::Parser;

#[derive(Parser, Debug)]
#[command(
    name = "ccsm",
    version,
    about = "The Claude Code session manager: run, find, keep and move Claude Code sessions",
    long_about = None
)]
struct Cli {}

fn main() -> ExitCode {
    let _cli = Cli::parse();
    ExitCode::SUCCESS
}
