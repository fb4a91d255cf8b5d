//! P8, P9, P10: the daemon's event path, the daemon under 200 live sessions,
//! and `ccsm ps` against `claude agents`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use ccsm_core::Event;
use ccsm_daemon::{Access, AppState, Fleet, FleetConfig};
use ccsm_service::{Config, Service};
use futures::StreamExt as _;

fn own_rss() -> u64 {
    ccsm_claude::process::rss_bytes(std::process::id())
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn now_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

async fn daemon(cfg: FleetConfig) -> Result<(Fleet, std::net::SocketAddr, tempfile::TempDir)> {
    let dir = tempfile::tempdir()?;
    let config_dir = dir.path().join("config");
    std::fs::create_dir_all(config_dir.join("projects"))?;
    let svc = Service::new(
        Config {
            data_dir: Some(dir.path().join("data")),
            ..Config::default()
        },
        Some(config_dir),
    );
    let fleet = Fleet::new(svc, cfg);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let state = AppState::new(fleet.clone(), Access::for_addr(addr, None));
    tokio::spawn(ccsm_daemon::serve(listener, state, std::future::pending()));
    Ok((fleet, addr, dir))
}

/// P8: event line to WebSocket subscribers: latency, fan-out, memory.
pub async fn fanout(subscribers: usize, events: usize) -> Result<()> {
    let (fleet, addr, _dir) = daemon(FleetConfig::default()).await?;
    let run = fleet.bench_run("00000000-0000-4000-8000-000000000008")?;
    let before = own_rss();
    let got = Arc::new(AtomicU64::new(0));
    let lagged = Arc::new(AtomicU64::new(0));
    let (lat_tx, mut lat_rx) = tokio::sync::mpsc::unbounded_channel::<Vec<f64>>();
    let mut ready = Vec::new();
    for _ in 0..subscribers {
        let url = format!(
            "ws://{addr}/ws/sessions?ids={}&after={}",
            run.id,
            run.log.last_seq()
        );
        let config = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
            .read_buffer_size(4 << 10)
            .write_buffer_size(0);
        let (mut ws, _) =
            tokio_tungstenite::connect_async_with_config(url, Some(config), false).await?;
        let got = got.clone();
        let lagged = lagged.clone();
        let lat_tx = lat_tx.clone();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        ready.push(rx);
        tokio::spawn(async move {
            let _ = tx.send(());
            let mut lat = Vec::new();
            while let Some(Ok(m)) = ws.next().await {
                let tokio_tungstenite::tungstenite::Message::Text(t) = m else {
                    continue;
                };
                // Cheap checks: the subscriber's own parsing is not what is measured.
                let t: &str = &t;
                if t.starts_with(r#"{"type":"lagged""#) {
                    lagged.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                if t.contains(r#""text":"end""#) {
                    break;
                }
                if let Some(i) = t.find("lat:") {
                    let digits: String = t[i + 4..]
                        .chars()
                        .take_while(char::is_ascii_digit)
                        .collect();
                    if let Ok(ts) = digits.parse::<u64>() {
                        lat.push((now_ns().saturating_sub(ts)) as f64 / 1e6);
                    }
                }
                got.fetch_add(1, Ordering::Relaxed);
            }
            let _ = lat_tx.send(lat);
        });
    }
    drop(lat_tx);
    for r in ready {
        let _ = r.await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let idle = own_rss();
    // Latency: paced events, one per millisecond.
    let paced = 1000.min(events);
    for _ in 0..paced {
        run.publish(Event::Stderr {
            text: format!("lat:{}", now_ns()),
        });
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    // Fan-out: as fast as events can be published, in bursts the ring holds.
    let paced_target = (paced * subscribers) as u64;
    let deadline = Instant::now() + Duration::from_secs(30);
    while got.load(Ordering::Relaxed) < paced_target && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let start = Instant::now();
    let burst = 4000;
    let mut sent = 0;
    while sent < events {
        let n = burst.min(events - sent);
        let target = got.load(Ordering::Relaxed) + (n * subscribers) as u64;
        for _ in 0..n {
            run.publish(Event::Stderr {
                text: "x".repeat(200),
            });
        }
        sent += n;
        let deadline = Instant::now() + Duration::from_secs(30);
        while got.load(Ordering::Relaxed) < target
            && Instant::now() < deadline
            && lagged.load(Ordering::Relaxed) == 0
        {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
    let secs = start.elapsed().as_secs_f64();
    let peak = own_rss();
    run.publish(Event::Stderr { text: "end".into() });
    let mut lat = Vec::new();
    while let Some(l) = lat_rx.recv().await {
        lat.extend(l);
    }
    lat.sort_by(f64::total_cmp);
    let deliveries = (events * subscribers) as f64;
    println!("P8 event path, {subscribers} WebSocket subscribers of one session");
    println!(
        "  latency publish -> subscriber ({} samples): p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms",
        lat.len(),
        pct(&lat, 0.5),
        pct(&lat, 0.99),
        pct(&lat, 1.0)
    );
    println!(
        "  fan-out: {events} events x {subscribers} = {deliveries} deliveries in {secs:.2} s = {:.0}/s; lagged: {}",
        deliveries / secs,
        lagged.load(Ordering::Relaxed)
    );
    println!(
        "  memory: {:.1} KB per idle subscriber, {:.1} KB per subscriber at peak (both ends of the socket are in this process: an upper bound)",
        idle.saturating_sub(before) as f64 / 1024.0 / subscribers as f64,
        peak.saturating_sub(before) as f64 / 1024.0 / subscribers as f64
    );
    Ok(())
}

fn get(agent: &ureq::Agent, url: &str) -> Result<serde_json::Value> {
    let text = agent.get(url).call()?.into_body().read_to_string()?;
    Ok(serde_json::from_str(&text)?)
}

/// P9: the daemon with `sessions` live sessions of the fake CLI.
pub async fn load(sessions: usize, requests: usize) -> Result<()> {
    let cfg = FleetConfig {
        claude: Some(ccsm_testkit::fake::fake_claude()),
        ..FleetConfig::default()
    };
    let (fleet, addr, dir) = daemon(cfg).await?;
    let project = dir.path().join("project");
    std::fs::create_dir_all(&project)?;
    let before = own_rss();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let started = Instant::now();
    let mut handles = Vec::new();
    for chunk in (0..sessions)
        .collect::<Vec<_>>()
        .chunks(sessions.div_ceil(8))
    {
        let chunk = chunk.to_vec();
        let agent = agent.clone();
        let project = project.clone();
        handles.push(tokio::task::spawn_blocking(move || -> Result<()> {
            for i in chunk {
                let body = serde_json::json!({"working_directory": project, "prompt": format!("hello {i}")});
                let resp = agent
                    .post(format!("http://{addr}/api/claude/sessions"))
                    .header("Content-Type", "application/json")
                    .send(body.to_string().as_str())?
                    .into_body()
                    .read_to_string()?;
                anyhow::ensure!(resp.contains("\"success\":true"), "start failed: {resp}");
            }
            Ok(())
        }));
    }
    for h in handles {
        h.await??;
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    while fleet.runs().iter().any(|r| r.view().turns < 1) {
        anyhow::ensure!(Instant::now() < deadline, "not every session answered");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let start_secs = started.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let live = own_rss();
    // API latency under that load: status of random sessions and the table.
    let ids: Vec<String> = fleet.runs().iter().map(|r| r.id.clone()).collect();
    let mut handles = Vec::new();
    for w in 0..8 {
        let agent = agent.clone();
        let ids = ids.clone();
        handles.push(tokio::task::spawn_blocking(move || -> Result<Vec<f64>> {
            let mut lat = Vec::new();
            for i in 0..requests / 8 {
                let url = if i % 10 == 0 {
                    format!("http://{addr}/api/claude/running")
                } else {
                    format!(
                        "http://{addr}/api/claude/sessions/{}/status",
                        ids[(i * 7 + w) % ids.len()]
                    )
                };
                let t = Instant::now();
                let v = get(&agent, &url)?;
                lat.push(t.elapsed().as_secs_f64() * 1000.0);
                anyhow::ensure!(v["success"] == true, "{v}");
            }
            Ok(lat)
        }));
    }
    let mut lat = Vec::new();
    for h in handles {
        lat.extend(h.await??);
    }
    lat.sort_by(f64::total_cmp);
    // No event lost: every session's buffer holds its whole first turn.
    let complete = fleet
        .runs()
        .iter()
        .filter(|r| {
            let replay = r.log.replay(0);
            replay.missed == 0
                && replay
                    .events
                    .iter()
                    .any(|p| p.record.event.wire_name() == "claude-complete")
        })
        .count();
    println!(
        "P9 daemon with {sessions} live sessions (fake CLI), {} API requests from 8 clients",
        lat.len()
    );
    println!("  all started and answered in {start_secs:.1} s; sessions with every event of their turn: {complete}/{sessions}");
    println!(
        "  API latency: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        pct(&lat, 0.5),
        pct(&lat, 0.99),
        pct(&lat, 1.0)
    );
    println!(
        "  daemon memory: {:.2} MB per live session ({} MB before, {} MB with them)",
        live.saturating_sub(before) as f64 / (1 << 20) as f64 / sessions as f64,
        before >> 20,
        live >> 20
    );
    fleet.shutdown().await;
    Ok(())
}

/// P10: `ccsm ps --json` vs `claude agents --json`, same machine state.
pub fn ps(runs: usize, processes: usize) -> Result<()> {
    let env = ccsm_testkit::TestEnv::new();
    let model = ccsm_testkit::MockModel::start(ccsm_testkit::Scenario::echo());
    let mut children = Vec::new();
    for _ in 0..processes {
        let child = env
            .claude(&model, &["-p", "SLOW 240"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()?;
        children.push(child);
    }
    let reg = env.config_dir.join("sessions");
    ccsm_testkit::wait_for("the CLIs register", Duration::from_secs(60), || {
        (std::fs::read_dir(&reg).map_or(0, |d| d.count()) >= processes * 2).then_some(())
    });
    let ccsm = std::env::current_exe()?
        .parent()
        .context("bench dir")?
        .join("ccsm");
    let time = |mut cmd: std::process::Command| -> Result<(f64, String)> {
        env.configure(&mut cmd, &model);
        // No daemon answers here: ps reads the registry itself.
        cmd.env("CCSM_DAEMON", "127.0.0.1:1");
        let t = Instant::now();
        let out = cmd.output()?;
        anyhow::ensure!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        Ok((
            t.elapsed().as_secs_f64() * 1000.0,
            String::from_utf8_lossy(&out.stdout).into_owned(),
        ))
    };
    let mut a = Vec::new();
    let mut b = Vec::new();
    let (mut ours, mut theirs) = (String::new(), String::new());
    for _ in 0..runs {
        let mut c = std::process::Command::new(&ccsm);
        c.args(["ps", "--json"]);
        let (t, o) = time(c)?;
        a.push(t);
        ours = o;
        let mut c = std::process::Command::new(ccsm_testkit::claude_cli());
        c.args(["agents", "--json"]);
        let (t, o) = time(c)?;
        b.push(t);
        theirs = o;
    }
    for mut c in children {
        let _ = c.kill();
        let _ = c.wait();
    }
    let pids = |s: &str| -> Vec<u64> {
        let v: serde_json::Value = serde_json::from_str(s).unwrap_or_default();
        let mut p: Vec<u64> = v
            .as_array()
            .map(|a| a.iter().filter_map(|r| r["pid"].as_u64()).collect())
            .unwrap_or_default();
        p.sort_unstable();
        p
    };
    a.sort_by(f64::total_cmp);
    b.sort_by(f64::total_cmp);
    println!("P10 process table, {processes} claude -p running, {runs} runs each (A B A B ...)");
    println!(
        "  ccsm ps --json: median {:.1} ms; claude agents --json: median {:.1} ms; ratio {:.1}x",
        pct(&a, 0.5),
        pct(&b, 0.5),
        pct(&b, 0.5) / pct(&a, 0.5)
    );
    println!(
        "  same pids listed: {} ({:?} vs {:?})",
        pids(&ours) == pids(&theirs),
        pids(&ours),
        pids(&theirs)
    );
    Ok(())
}
