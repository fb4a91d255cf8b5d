//! `ccsm-mock-model --port PORT [--scenario FILE]`: the scripted model as a server,
//! for trying the real CLI by hand:
//!
//! ```sh
//! ccsm-mock-model --port 4010 &
//! ANTHROPIC_BASE_URL=http://127.0.0.1:4010 ANTHROPIC_API_KEY=x \
//!   CLAUDE_CONFIG_DIR=$(mktemp -d) claude -p "hello"     # -> echo: hello
//! curl -s http://127.0.0.1:4010/_mock/requests           # what the CLI sent
//! ```

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use anyhow::{bail, Context as _};
use ccsm_testkit::{MockModel, Scenario};
use clap::Parser;

#[derive(Parser, Debug)]
#[command(
    version,
    about = "A scripted stand-in for the Anthropic Messages API (loopback only)"
)]
struct Args {
    /// Port to listen on (0 picks a free one and prints it).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Loopback address to bind; other addresses are refused.
    #[arg(long, default_value = "127.0.0.1")]
    host: IpAddr,
    /// Scenario file (JSON); without one every prompt is echoed and directives apply.
    #[arg(long)]
    scenario: Option<PathBuf>,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if !args.host.is_loopback() {
        bail!(
            "refusing to listen on {}: the scripted model serves loopback only",
            args.host
        );
    }
    let scenario = match &args.scenario {
        Some(p) => Scenario::from_file(p)?,
        None => Scenario::echo(),
    };
    let listener = std::net::TcpListener::bind(SocketAddr::new(args.host, args.port))
        .with_context(|| format!("binding {}:{}", args.host, args.port))?;
    let model = MockModel::start_on(listener, scenario)?;
    println!("listening on {}", model.base_url());
    model.join();
    Ok(())
}
