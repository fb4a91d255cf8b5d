//! Output helpers shared by the commands: JSON for programs, tables and
//! numbers for people.

use anyhow::Result;
use comfy_table::{presets::UTF8_FULL_CONDENSED, ContentArrangement, Table};
use serde::Serialize;

pub use ccsm_service::{cut, one_line};

/// How many characters of an id tables show (`--full-ids` shows all 36); any
/// command accepts them back.
pub const SHORT_ID: usize = 8;

/// The id to show in a table.
pub fn show_id(id: &str, full: bool) -> String {
    if full {
        id.to_owned()
    } else {
        id.chars().take(SHORT_ID).collect()
    }
}

pub fn table(header: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(header.iter().copied());
    t
}

pub fn print_json<T: Serialize + ?Sized>(v: &T) -> Result<()> {
    use std::io::Write as _;
    // Stdout is line-buffered: one write for the whole document, not one per line.
    let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    serde_json::to_writer_pretty(&mut out, v)?;
    writeln!(out)?;
    out.flush()?;
    Ok(())
}

/// A moment in local time, with its zone (`2026-11-20 10:00 +01:00`).
pub fn when(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| {
            t.with_timezone(&chrono::Local)
                .format("%Y-%m-%d %H:%M %:z")
                .to_string()
        })
        .unwrap_or_default()
}

/// `1234567` → `1,234,567`.
pub fn fmt_int(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

pub fn size(b: u64) -> String {
    match b {
        b if b >= 1 << 30 => format!("{:.1} GiB", b as f64 / (1u64 << 30) as f64),
        b if b >= 1 << 20 => format!("{:.1} MiB", b as f64 / (1u64 << 20) as f64),
        b if b >= 1 << 10 => format!("{:.1} KiB", b as f64 / 1024.0),
        b => format!("{b} B"),
    }
}

pub fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// `ccsm sessions list | head` must end quietly when `head` does, not panic in the
/// middle of a table (`println!` panics on a closed pipe). The usual Unix answer:
/// the default SIGPIPE action, which ends the process as every filter does. Not for
/// `run`/`chat`, which write to the CLI's stdin and must see its end as an error.
#[allow(unsafe_code)]
pub fn quiet_broken_pipe() {
    use nix::sys::signal::{signal, SigHandler, Signal};
    // SAFETY: called first thing in main, before any thread exists; SIG_DFL installs
    // no handler code.
    let _ = unsafe { signal(Signal::SIGPIPE, SigHandler::SigDfl) };
}

/// Writes generated text to stdout; a closed pipe (`| head`) is not an error.
pub fn write_out(bytes: &[u8]) -> std::process::ExitCode {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ccsm: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
