//! `ccsm config`, and what the service gets from this front: a progress bar.

use std::path::PathBuf;

use ccsm_service::{config, Service};

use crate::out;

/// `ccsm config`: what is in effect, and where it came from.
pub fn show_config(svc: &Service, json: bool) -> anyhow::Result<()> {
    let config = svc.config();
    let pricing = svc.pricing_source();
    let v = serde_json::json!({
        "configFile": config::path(),
        "configFileFound": config.path.is_some(),
        "configDir": svc.config_dir(),
        "dataDir": svc.data_dir(),
        "catalog": svc.catalog_path(),
        "store": config.store.as_ref().map(|_| svc.catalog_url()),
        "host": config.store.as_ref().map(|_| svc.host()),
        "pricing": pricing,
        "claude": config.claude,
        "serve": {"listen": config.serve.listen, "tokenFile": config.serve.token_file},
    });
    if json {
        return out::print_json(&v);
    }
    let found = if config.path.is_some() {
        ""
    } else {
        " (none: defaults)"
    };
    let show = |p: &Option<PathBuf>| p.as_ref().map_or("-".into(), |p| p.display().to_string());
    println!("config file   {}{found}", show(&config::path()));
    println!("config dir    {}", svc.config_dir().display());
    println!("data dir      {}", svc.data_dir().display());
    match &config.store {
        Some(_) => println!("store         {}", svc.catalog_url()),
        None => println!("catalog       {}", svc.catalog_path().display()),
    }
    println!("host          {}", svc.host());
    println!("pricing       {pricing}");
    println!("claude        {}", show(&config.claude));
    println!(
        "serve         {} {}",
        config.serve.listen.as_deref().unwrap_or("127.0.0.1:8082"),
        show(&config.serve.token_file)
    );
    Ok(())
}

/// A progress bar on stderr while the catalog reads a lot (over 64 MiB).
pub fn progress_bar() -> ccsm_service::Progress {
    use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
    let bar = ProgressBar::hidden();
    let shown = std::sync::atomic::AtomicBool::new(false);
    std::sync::Arc::new(move |done: u64, total: u64| {
        if total > 64 << 20 && !shown.swap(true, std::sync::atomic::Ordering::Relaxed) {
            bar.set_draw_target(ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template(
                    "indexing {bar:30} {bytes}/{total_bytes} {bytes_per_sec} {eta}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
        }
        bar.set_length(total);
        bar.set_position(done);
        if done >= total {
            bar.finish_and_clear();
        }
    })
}

/// Runs a command's future that never waits (every command but those that
/// drive the CLI or serve) to its end, on this thread, outside any runtime.
pub fn at_once<T>(work: impl std::future::Future<Output = anyhow::Result<T>>) -> anyhow::Result<T> {
    let mut work = std::pin::pin!(work);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match work.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(r) => r,
        std::task::Poll::Pending => Err(anyhow::anyhow!(
            "internal error: a blocking command waited for the runtime"
        )),
    }
}
