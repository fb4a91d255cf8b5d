//! The dashboard in a real browser: headless Chromium from Debian's packages,
//! driven through ChromeDriver (WebDriver), against the daemon with the real CLI
//! and the scripted model. Screenshots go to `target/screenshots/`.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

use crate::harness::Daemon;

fn tool(var: &str, default: &str) -> PathBuf {
    let p = std::env::var_os(var)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(default));
    assert!(
        p.exists(),
        "{} is missing ({var} unset): run scripts/test, which installs Debian's chromium and chromium-driver",
        p.display()
    );
    p
}

/// ChromeDriver on a free port, stopped (by its pid) when dropped.
struct Driver {
    child: Child,
    url: String,
}

impl Driver {
    fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let child = Command::new(tool("CCSM_TEST_CHROMEDRIVER", "/usr/bin/chromedriver"))
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let url = format!("http://127.0.0.1:{port}");
        ccsm_testkit::wait_for("chromedriver to listen", Duration::from_secs(30), || {
            std::net::TcpStream::connect(("127.0.0.1", port))
                .ok()
                .map(|_| ())
        });
        Self { child, url }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn browser(driver: &Driver, width: u32, height: u32) -> Client {
    // Two TLS back ends are in the tree; the WebDriver client (plain HTTP to a
    // local ChromeDriver) needs one chosen.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let chromium = tool("CCSM_TEST_CHROMIUM", "/usr/bin/chromium");
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": chromium,
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     format!("--window-size={width},{height}")],
        }),
    );
    ClientBuilder::rustls()
        .expect("a TLS setup")
        .capabilities(caps)
        .connect(&driver.url)
        .await
        .expect("a browser session")
}

/// Waits until the page's text contains `what`.
async fn wait_text(c: &Client, what: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let text = c
            .find(Locator::Css("body"))
            .await
            .expect("the body")
            .text()
            .await
            .unwrap_or_default();
        if text.contains(what) {
            return text;
        }
        assert!(
            Instant::now() < deadline,
            "no {what:?} on the page:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn screenshot(c: &Client, name: &str) {
    let dir = ccsm_testkit::workspace_root().join("target/screenshots");
    std::fs::create_dir_all(&dir).expect("the screenshots dir");
    let png = c.screenshot().await.expect("a screenshot");
    std::fs::write(dir.join(format!("{name}.png")), png).expect("writing a screenshot");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_session_started_from_the_page_streams_its_reply() {
    let d = Daemon::start().await;
    let driver = Driver::start();
    let c = browser(&driver, 1280, 900).await;
    let base = format!("http://{}", d.addr);
    c.goto(&format!("{base}/")).await.expect("the live page");
    wait_text(&c, "Live").await;
    screenshot(&c, "live-desktop").await;
    let form = c
        .find(Locator::Css("form.start"))
        .await
        .expect("the start form");
    form.find(Locator::Css("input[name=working_directory]"))
        .await
        .expect("folder")
        .send_keys(&d.env.project.display().to_string())
        .await
        .expect("typing");
    form.find(Locator::Css("textarea[name=prompt]"))
        .await
        .expect("prompt")
        .send_keys("hello from the page")
        .await
        .expect("typing");
    form.find(Locator::Css("button[type=submit]"))
        .await
        .expect("start")
        .click()
        .await
        .expect("clicking");
    wait_text(&c, "echo: hello from the page").await;
    let url = c.current_url().await.expect("the url");
    assert!(url.path().starts_with("/sessions/"), "{url}");
    screenshot(&c, "session-desktop").await;

    // A refused folder is said on the page, and nothing starts.
    c.goto(&format!("{base}/")).await.expect("the live page");
    let form = c.find(Locator::Css("form.start")).await.expect("form");
    form.find(Locator::Css("input[name=working_directory]"))
        .await
        .expect("folder")
        .send_keys("/etc")
        .await
        .expect("typing");
    form.find(Locator::Css("button[type=submit]"))
        .await
        .expect("start")
        .click()
        .await
        .expect("clicking");
    wait_text(&c, "system location").await;
    assert_eq!(d.fleet.runs().len(), 1, "no second session");

    // The phone-sized page.
    let phone = browser(&driver, 390, 844).await;
    phone
        .goto(&format!("{base}/"))
        .await
        .expect("the live page");
    wait_text(&phone, "Live").await;
    screenshot(&phone, "live-phone").await;
    phone.close().await.expect("closing");
    c.close().await.expect("closing");
    let _ = d.stop().await;
}
