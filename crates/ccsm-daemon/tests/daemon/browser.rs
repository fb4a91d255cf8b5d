//! The dashboard in a real browser: headless Chromium from Debian's packages,
//! driven through ChromeDriver (WebDriver), against the daemon with the real CLI
//! and the scripted model. Screenshots go to `target/screenshots/`.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::key::Key;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

use crate::harness::Daemon;

fn tool(var: &str, default: &str) -> PathBuf {
    let p = std::env::var_os(var)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(default));
    assert!(
        p.exists(),
        "{} is missing ({var} unset): run scripts/test, which installs Debian's chromium, chromium-driver \
         and firefox-esr, and geckodriver from crates.io",
        p.display()
    );
    p
}

/// The two browsers the page is tested in.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Chromium,
    Firefox,
}

/// A WebDriver server (ChromeDriver or geckodriver) on a free port, stopped
/// with its browser (by its process group) when dropped.
struct Driver {
    child: Child,
    url: String,
    kind: Kind,
}

impl Driver {
    fn start() -> Self {
        Self::of(Kind::Chromium)
    }

    fn of(kind: Kind) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let mut cmd = match kind {
            Kind::Chromium => {
                let mut c = Command::new(tool("CCSM_TEST_CHROMEDRIVER", "/usr/bin/chromedriver"));
                c.arg(format!("--port={port}"));
                c
            }
            Kind::Firefox => {
                let mut c = Command::new(tool(
                    "CCSM_TEST_GECKODRIVER",
                    &ccsm_testkit::workspace_root()
                        .join("tools/geckodriver/bin/geckodriver")
                        .display()
                        .to_string(),
                ));
                c.args([
                    "--port",
                    &port.to_string(),
                    "--websocket-port",
                    "0",
                    "--log",
                    "fatal",
                ]);
                c
            }
        };
        // Its own process group: the browser it starts is stopped with it, even
        // when a test fails before closing its session.
        use std::os::unix::process::CommandExt as _;
        let child = cmd
            .process_group(0)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("the WebDriver server starts");
        let url = format!("http://127.0.0.1:{port}");
        ccsm_testkit::wait_for(
            "the WebDriver server to listen",
            Duration::from_secs(30),
            || {
                std::net::TcpStream::connect(("127.0.0.1", port))
                    .ok()
                    .map(|_| ())
            },
        );
        Self { child, url, kind }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // The group this test started (the driver and its browser), by its id.
        if let Ok(pid) = i32::try_from(self.child.id()) {
            let _ = nix::sys::signal::killpg(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        let _ = self.child.wait();
    }
}

async fn browser(driver: &Driver, width: u32, height: u32) -> Client {
    // Two TLS back ends are in the tree; the WebDriver client (plain HTTP to a
    // local driver) needs one chosen.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut caps = serde_json::Map::new();
    match driver.kind {
        Kind::Chromium => {
            let chromium = tool("CCSM_TEST_CHROMIUM", "/usr/bin/chromium");
            caps.insert(
                "goog:chromeOptions".into(),
                json!({
                    "binary": chromium,
                    "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                             format!("--window-size={width},{height}")],
                }),
            );
        }
        Kind::Firefox => {
            let firefox = tool("CCSM_TEST_FIREFOX", "/usr/bin/firefox-esr");
            caps.insert(
                "moz:firefoxOptions".into(),
                json!({
                    "binary": firefox,
                    "args": ["-headless"],
                    // No updates, telemetry or other calls home on a closed network.
                    "prefs": {"app.update.disabledForTesting": true, "toolkit.telemetry.reportingpolicy.firstRun": false},
                }),
            );
        }
    }
    let c = ClientBuilder::rustls()
        .expect("a TLS setup")
        .capabilities(caps)
        .connect(&driver.url)
        .await
        .expect("a browser session");
    if driver.kind == Kind::Firefox {
        c.set_window_size(width, height)
            .await
            .expect("the window's size");
    }
    c
}

/// Presses keys as a person does, on whatever has the focus.
async fn press(c: &Client, keys: &[char]) {
    use fantoccini::actions::{InputSource as _, KeyAction, KeyActions};
    let mut seq = KeyActions::new("keyboard".into());
    for &k in keys {
        seq = seq
            .then(KeyAction::Down { value: k })
            .then(KeyAction::Up { value: k });
    }
    c.perform_actions(seq).await.expect("pressing keys");
}

/// Tabs through the page until the focused element matches `css`.
async fn tab_to(c: &Client, css: &str) {
    for _ in 0..80 {
        let here = c
            .execute(
                "return document.activeElement ? document.activeElement.matches(arguments[0]) : false",
                vec![json!(css)],
            )
            .await
            .expect("the focus");
        if here == json!(true) {
            return;
        }
        press(c, &[Key::Tab.into()]).await;
    }
    panic!("Tab never reached {css}");
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
    click(&c, "form.start details summary").await;
    click(
        &c,
        "form.start input[data-start-agent='technical-documentation']",
    )
    .await;
    form.find(Locator::Css("button[type=submit]"))
        .await
        .expect("start")
        .click()
        .await
        .expect("clicking");
    wait_text(&c, "echo: hello from the page").await;
    let url = c.current_url().await.expect("the url");
    assert!(url.path().starts_with("/sessions/"), "{url}");
    let id = url.path().trim_start_matches("/sessions/").to_owned();
    wait_text(&c, "Agents").await;
    screenshot(&c, "session-desktop").await;
    let agents = d
        .get(&format!("/api/claude/sessions/{id}/agents"))
        .await
        .expect("agents");
    assert!(
        agents["active"]
            .to_string()
            .contains("technical-documentation"),
        "the agent picked in the start form: {agents:#}"
    );

    // An agent switched on from the page, and a title given.
    let drawn = rendered(&c).await;
    click(&c, "input[data-agent='backend-services']").await;
    d.get_until(
        &format!("/api/claude/sessions/{id}/agents"),
        "the agent active",
        |a| a["active"].to_string().contains("backend-services"),
    )
    .await;
    // The page draws itself again after the change: the new form is the one to fill.
    let deadline = Instant::now() + Duration::from_secs(30);
    while rendered(&c).await <= drawn {
        assert!(Instant::now() < deadline, "the page was not drawn again");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let title = find_wait(&c, "form[aria-label='session details'] input[name=name]").await;
    title.clear().await.expect("clearing");
    title.send_keys("Named on the page").await.expect("typing");
    click(&c, "form[aria-label='session details'] button[type=submit]").await;
    d.get_until(&format!("/api/claude/sessions/{id}"), "the title", |one| {
        one["customTitle"] == "Named on the page"
    })
    .await;
    find_wait(&c, "form[aria-label='add a note'] input[name=append_notes]")
        .await
        .send_keys("a line from the page")
        .await
        .expect("typing");
    click(&c, "form[aria-label='add a note'] button[type=submit]").await;
    d.get_until(&format!("/api/claude/sessions/{id}"), "the note", |one| {
        one["notes"]
            .as_str()
            .is_some_and(|n| n.contains("a line from the page"))
    })
    .await;

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

/// History with the keyboard alone: Tab to the search box, a word, Enter; Tab
/// to the hit, Enter; its conversation opens at its own URL.
async fn search_by_keyboard(c: &Client, base: &str) {
    c.goto(&format!("{base}/history")).await.expect("history");
    wait_text(c, "session(s)").await;
    tab_to(c, "input[type=search]").await;
    let mut keys: Vec<char> = "zebra".chars().collect();
    keys.push(Key::Enter.into());
    press(c, &keys).await;
    wait_text(c, "1 session(s)").await;
    tab_to(c, "ol.hits a").await;
    press(c, &[Key::Enter.into()]).await;
    wait_text(c, "echo: the zebra crossing").await;
    assert!(c
        .current_url()
        .await
        .expect("url")
        .path()
        .starts_with("/sessions/"));
}

/// Waits until the element at `css` has `attr` = `want`.
async fn wait_attr(c: &Client, css: &str, attr: &str, want: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let now = match c.find(Locator::Css(css)).await {
            Ok(e) => e.attr(attr).await.ok().flatten(),
            Err(_) => None,
        };
        if now.as_deref() == Some(want) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{css} has {attr}={now:?}, not {want:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Starts a session from the live page's form and waits for its echoed reply.
async fn start_from_the_page(c: &Client, d: &Daemon, prompt: &str) {
    c.goto(&format!("http://{}/", d.addr))
        .await
        .expect("the live page");
    find_wait(c, "form.start input[name=working_directory]")
        .await
        .send_keys(&d.env.project.display().to_string())
        .await
        .expect("typing");
    find_wait(c, "form.start textarea[name=prompt]")
        .await
        .send_keys(prompt)
        .await
        .expect("typing");
    click(c, "form.start button[type=submit]").await;
    wait_text(c, &format!("echo: {prompt}")).await;
}

/// How many times the page drew a view (`data-rendered` on the body).
async fn rendered(c: &Client) -> u64 {
    counter(c, "data-rendered").await
}

/// How many times the live view refreshed its table (`data-refreshes`).
async fn refreshes(c: &Client) -> u64 {
    counter(c, "data-refreshes").await
}

async fn counter(c: &Client, attr: &str) -> u64 {
    c.find(Locator::Css("body"))
        .await
        .expect("the body")
        .attr(attr)
        .await
        .ok()
        .flatten()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

async fn find_wait(c: &Client, css: &str) -> fantoccini::elements::Element {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(e) = c.find(Locator::Css(css)).await {
            return e;
        }
        assert!(Instant::now() < deadline, "nothing at {css}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn click(c: &Client, css: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(e) = c.find(Locator::Css(css)).await {
            if e.click().await.is_ok() {
                return;
            }
        }
        assert!(Instant::now() < deadline, "nothing to click at {css}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_permission_is_answered_and_a_session_cancelled_from_the_page() {
    let d = Daemon::start().await;
    let driver = Driver::start();
    let c = browser(&driver, 1280, 900).await;
    let file = d.env.project.join("from-the-page.txt");
    let id = d
        .start_session(
            Some(&format!("WRITE {} written", file.display())),
            json!({"name": "asks"}),
        )
        .await;
    c.goto(&format!("http://{}/", d.addr))
        .await
        .expect("the live page");
    let text = wait_text(&c, "Waiting for your answer").await;
    assert!(
        text.contains("from-the-page.txt"),
        "the tool's input is shown:\n{text}"
    );
    screenshot(&c, "approval-desktop").await;
    let phone = browser(&driver, 390, 844).await;
    phone
        .goto(&format!("http://{}/", d.addr))
        .await
        .expect("the live page");
    wait_text(&phone, "Waiting for your answer").await;
    screenshot(&phone, "approval-phone").await;
    phone.close().await.expect("closing");
    // Answered with the keyboard alone: Tab to Allow, Enter. The table and the
    // approvals are refreshed twice a second under the focus without losing it.
    tab_to(&c, ".approval button.primary").await;
    let seen = refreshes(&c).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while refreshes(&c).await < seen + 2 {
        assert!(Instant::now() < deadline, "the live view is not refreshed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let still = c
        .execute(
            "return document.activeElement.matches('.approval button.primary')",
            vec![],
        )
        .await
        .expect("the focus");
    assert_eq!(still, json!(true), "the refresh took the focus away");
    press(&c, &[Key::Enter.into()]).await;
    ccsm_testkit::wait_for("the allowed Write on disk", Duration::from_secs(60), || {
        file.is_file().then_some(())
    });
    d.wait_turns(&id, 1).await;

    // Cancel from the page.
    let slow = d
        .start_session(Some("SLOW 60"), json!({"name": "slow"}))
        .await;
    d.wait_status(&slow, "busy", |s| s["status"]["state"] == "busy")
        .await;
    click(&c, &format!("tr[data-session='{slow}'] button.danger")).await;
    d.wait_status(&slow, "cancelled from the page", |s| {
        s["status"]["state"] == "cancelled"
    })
    .await;

    // An alert pops up on the page as it fires, with its session.
    let costly = d
        .start_session(
            Some("hello"),
            json!({"name": "costly", "limits": {"max_cost_usd": 0.000001, "action": "none"}}),
        )
        .await;
    let alert = find_wait(&c, &format!("#alerts .alert[data-session='{costly}']")).await;
    let text = alert.text().await.expect("its text");
    assert!(text.starts_with("cost:"), "{text}");
    screenshot(&c, "alert-desktop").await;
    c.close().await.expect("closing");
    let _ = d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn history_usage_and_a_session_started_outside_on_the_page() {
    let d = Daemon::start().await;
    d.env.run_claude(&d.model, &["-p", "the zebra crossing"]);
    let plain = d
        .env
        .run_claude(
            &d.model,
            &["-p", "a plain question", "--output-format", "json"],
        )
        .session_id()
        .expect("a session id");
    let driver = Driver::start();
    let c = browser(&driver, 1280, 900).await;
    let base = format!("http://{}", d.addr);

    // History: the hits for a word, at its own URL, its filters as chips.
    c.goto(&format!("{base}/history?q=zebra%20after:2020-01-01"))
        .await
        .expect("history");
    let text = wait_text(&c, "1 session(s)").await;
    assert!(!text.contains("plain question"), "{text}");
    screenshot(&c, "history-desktop").await;
    click(&c, "li.chip[data-filter='after:2020-01-01'] button").await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while c.current_url().await.expect("url").query() != Some("q=zebra") {
        assert!(
            Instant::now() < deadline,
            "the chip's filter is not removed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    wait_text(&c, "1 session(s)").await;

    search_by_keyboard(&c, &base).await;
    // Everything the page asked for came from the daemon, under a policy that
    // lets it reach nothing else.
    let asked = c
        .execute_async(
            "const done = arguments[arguments.length - 1];
             fetch('/', {method: 'HEAD'}).then((r) => done([r.headers.get('content-security-policy'),
               performance.getEntriesByType('resource').map((e) => e.name)]));",
            vec![],
        )
        .await
        .expect("the page's requests");
    let csp = asked[0].as_str().expect("a content security policy");
    assert!(csp.contains("connect-src 'self'"), "{csp}");
    let urls = asked[1].as_array().expect("resource entries");
    assert!(urls.len() >= 3, "{urls:?}");
    for u in urls {
        assert!(
            u.as_str()
                .is_some_and(|u| u.starts_with(&format!("{base}/"))),
            "a request away from the daemon: {u}"
        );
    }

    // A gone session is marked, and restored from its page.
    let file = d.transcript(&plain);
    let (status, v) = d
        .raw(
            "DELETE",
            &format!("/api/claude/sessions/{plain}?purge=true"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{v}");
    assert!(!file.exists());
    c.goto(&format!("{base}/sessions/{plain}"))
        .await
        .expect("the gone session");
    wait_text(&c, "gone from Claude Code").await;
    screenshot(&c, "gone-desktop").await;
    let phone = browser(&driver, 390, 844).await;
    phone
        .goto(&format!("{base}/sessions/{plain}"))
        .await
        .expect("the gone session");
    wait_text(&phone, "gone from Claude Code").await;
    screenshot(&phone, "gone-phone").await;
    click(&c, "main button.primary").await;
    wait_text(&c, "echo: a plain question").await;
    assert!(file.is_file(), "restored where Claude Code looks");

    // Usage: the same totals as `ccsm usage --json`.
    c.goto(&format!("{base}/usage")).await.expect("usage");
    wait_text(&c, "In all").await;
    let shown: f64 = c
        .find(Locator::Css("[data-total-cost]"))
        .await
        .expect("the total")
        .attr("data-total-cost")
        .await
        .expect("attr")
        .expect("a value")
        .parse()
        .expect("a number");
    let mut cmd = std::process::Command::new(crate::recovery::ccsm_bin());
    d.env.configure(&mut cmd, &d.model);
    cmd.args(["usage", "--json", "daily"]);
    let out = ccsm_testkit::run_with_deadline(cmd, Duration::from_secs(60));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let cli = v["totals"]["totalCost"].as_f64().expect("totalCost");
    assert!(cli > 0.0);
    assert!(
        (shown - cli).abs() < 1e-6,
        "page {shown} vs ccsm usage {cli}"
    );
    for chart in ["cost per day", "cost by model", "cost by project"] {
        find_wait(
            &c,
            &format!("svg[aria-label='{chart}'] :is(rect, path, circle)"),
        )
        .await;
    }
    screenshot(&c, "usage-desktop").await;

    // A `claude -p` started outside shows in Live within 2 s and leaves when it ends.
    c.goto(&format!("{base}/")).await.expect("live");
    wait_text(&c, "Live").await;
    let mut outside = d
        .env
        .claude(&d.model, &["-p", "SLOW 16"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("claude -p");
    let pid = outside.id();
    let row = format!("tr[data-pid='{pid}']");
    // From its registry file on, the page has it within 2 s.
    let file = d.env.config_dir.join(format!("sessions/{pid}.json"));
    ccsm_testkit::wait_for("its registry file", Duration::from_secs(30), || {
        file.exists().then_some(())
    });
    let seen = Instant::now();
    loop {
        if c.find(Locator::Css(&row)).await.is_ok() {
            break;
        }
        assert!(
            seen.elapsed() < Duration::from_secs(2),
            "the outside process is not on the page within 2 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    screenshot(&c, "live-outside-desktop").await;
    assert!(outside.wait().expect("it ends").success());
    let deadline = Instant::now() + Duration::from_secs(10);
    while c.find(Locator::Css(&row)).await.is_ok() {
        assert!(
            Instant::now() < deadline,
            "the ended process stays on the page"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The newest session of the folder continued from the start form: its
    // history goes to the model with the new prompt.
    c.goto(&format!("{base}/")).await.expect("live");
    find_wait(&c, "form.start input[name=working_directory]")
        .await
        .send_keys(&d.env.project.display().to_string())
        .await
        .expect("typing");
    click(&c, "form.start input[name=continue]").await;
    find_wait(&c, "form.start textarea[name=prompt]")
        .await
        .send_keys("continued from the page")
        .await
        .expect("typing");
    click(&c, "form.start button[type=submit]").await;
    wait_text(&c, "echo: continued from the page").await;
    let asked = crate::harness::last_request_text(&d.model);
    assert!(
        asked.contains("SLOW 16"),
        "the earlier turn goes with it: {asked}"
    );

    // Every page at a phone's width.
    for (path, name, text) in [
        (
            "/history?q=zebra".to_owned(),
            "history-phone",
            "1 session(s)",
        ),
        ("/usage".to_owned(), "usage-phone", "In all"),
        (
            format!("/sessions/{plain}"),
            "session-phone",
            "a plain question",
        ),
    ] {
        phone.goto(&format!("{base}{path}")).await.expect("a page");
        wait_text(&phone, text).await;
        screenshot(&phone, name).await;
    }
    phone.close().await.expect("closing");
    c.close().await.expect("closing");
    let _ = d.stop().await;
}

/// A daemon with a token: the page asks for it once, keeps it in the browser
/// session's storage (never in a URL), and works with it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_page_asks_for_the_token_once_and_keeps_it_out_of_urls() {
    let token = "page-token-7f3a";
    let d = Daemon::start_with_token(token).await;
    let driver = Driver::start();
    let c = browser(&driver, 1280, 900).await;
    c.goto(&format!("http://{}/", d.addr))
        .await
        .expect("the live page");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if c.get_alert_text().await.is_ok() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the page did not ask for the token"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    c.send_alert_text(token).await.expect("typing the token");
    c.accept_alert().await.expect("accepting");
    wait_text(&c, "Cancel all").await;
    let kept = c
        .execute("return sessionStorage.getItem('ccsm-token')", vec![])
        .await
        .expect("reading session storage");
    assert_eq!(kept, json!(token));
    // Another view: no second question, and no token in the address.
    c.goto(&format!("http://{}/usage", d.addr))
        .await
        .expect("usage");
    wait_text(&c, "In all").await;
    assert!(c.get_alert_text().await.is_err(), "asked a second time");
    let url = c.current_url().await.expect("url");
    assert!(!url.as_str().contains(token), "{url}");
    c.close().await.expect("closing");
    let _ = d.stop().await;
}

/// A daemon that goes away is said plainly on the page; when it is back the
/// page reconnects by itself and draws its view again with fresh data.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_unreachable_daemon_is_said_and_the_page_reconnects_by_itself() {
    let d = Daemon::start().await;
    let addr = d.addr;
    let driver = Driver::start();
    let c = browser(&driver, 1280, 900).await;
    c.goto(&format!("http://{addr}/"))
        .await
        .expect("the live page");
    wait_attr(&c, "#conn", "data-state", "live").await;
    let (env, model) = d.stop().await;
    wait_text(&c, "The ccsm daemon does not answer").await;
    wait_attr(&c, "#conn", "data-state", "down").await;
    screenshot(&c, "unreachable-desktop").await;
    let drawn = rendered(&c).await;
    let d = Daemon::serve_at(env, model, addr).await;
    wait_attr(&c, "#conn", "data-state", "live").await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while rendered(&c).await <= drawn {
        assert!(Instant::now() < deadline, "the view is not drawn again");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let banner = c.find(Locator::Css("#down")).await.expect("the banner");
    assert!(
        !banner.is_displayed().await.expect("displayed?"),
        "the banner stays"
    );
    // The page works again: a session started from it answers.
    start_from_the_page(&c, &d, "back again").await;
    c.close().await.expect("closing");
    let _ = d.stop().await;
}

/// The same page in Firefox (Debian's firefox-esr, through geckodriver): a
/// session started from the page streams its reply, a history search made with
/// the keyboard opens its hit, and the usage page shows the report's total.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_dashboard_works_in_firefox() {
    let d = Daemon::start().await;
    d.env.run_claude(&d.model, &["-p", "the zebra crossing"]);
    let driver = Driver::of(Kind::Firefox);
    let c = browser(&driver, 1280, 900).await;
    let base = format!("http://{}", d.addr);
    start_from_the_page(&c, &d, "hello from firefox").await;
    wait_attr(&c, "#conn", "data-state", "live").await;
    screenshot(&c, "firefox-session-desktop").await;
    search_by_keyboard(&c, &base).await;
    c.goto(&format!("{base}/usage")).await.expect("usage");
    wait_text(&c, "In all").await;
    let shown = find_wait(&c, "[data-total-cost]")
        .await
        .attr("data-total-cost")
        .await
        .expect("attr")
        .expect("a value");
    let report = d.get("/api/claude/usage").await.expect("the usage report");
    let want = report["totals"]["totalCost"].as_f64().expect("totalCost");
    assert!(want > 0.0);
    assert_eq!(shown, format!("{want:.6}"));
    screenshot(&c, "firefox-usage-desktop").await;
    c.set_window_size(390, 844).await.expect("a phone's width");
    c.goto(&format!("{base}/")).await.expect("live");
    wait_text(&c, "Live").await;
    screenshot(&c, "firefox-live-phone").await;
    c.close().await.expect("closing");
    let _ = d.stop().await;
}

/// Two hosts share a PostgreSQL catalog: B's live page lists the session A
/// runs, with its host, and B's Cancel stops it on A.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_team_page_shows_every_hosts_sessions_and_cancels_another_hosts_one() {
    let pg = ccsm_testkit::pg::PgCluster::start();
    let url = pg.database("team");
    let a = Daemon::start_on_team(&url, "host-a").await;
    let b = Daemon::start_on_team(&url, "host-b").await;
    let slow = a
        .start_session(Some("SLOW 60"), json!({"name": "on-a"}))
        .await;
    a.wait_status(&slow, "busy", |s| s["status"]["state"] == "busy")
        .await;
    let driver = Driver::start();
    let c = browser(&driver, 1280, 900).await;
    c.goto(&format!("http://{}/", b.addr))
        .await
        .expect("B's live page");
    let row = find_wait(
        &c,
        &format!("tr[data-session='{slow}'][data-host='host-a']"),
    )
    .await;
    let text = row.text().await.expect("its text");
    assert!(text.contains("host-a"), "the row names its host: {text}");
    let head = c
        .find(Locator::Css("table thead"))
        .await
        .expect("the table's head")
        .text()
        .await
        .expect("its text");
    assert!(head.contains("host"), "a host column: {head}");
    screenshot(&c, "team-desktop").await;
    click(&c, &format!("tr[data-session='{slow}'] button.danger")).await;
    a.wait_status(&slow, "cancelled from B's page", |s| {
        s["status"]["state"] == "cancelled"
    })
    .await;
    c.close().await.expect("closing");
    b.stop().await;
    a.stop().await;
}
