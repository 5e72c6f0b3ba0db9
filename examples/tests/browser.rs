//! The web clients in a real browser: headless Chromium, driven over
//! WebDriver by chromedriver, against the session server. Both variants are
//! started on ephemeral loopback ports. The test types into the form,
//! clicks Send, and reads the rendered page.
//!
//! Needs Debian's `chromium` and `chromium-driver`. Without them the test
//! is reported as ignored, with the reason (found at build time:
//! `build/test_tools.rs`); under `CI=true` the build fails instead. Set `UPDATE_SCREENSHOT=1` to write the
//! screenshot it takes to docs/web-client.png. It is always written to
//! cargo's temporary directory for tests.

mod common;

use common::{Process, free_port, start_example};

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{Value, json};

// The paths the build script looks for (examples/build.rs).
const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// WebDriver's key for an element reference.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A WebDriver session against chromedriver.
struct Browser {
    agent: ureq::Agent,
    base: String,
    _driver: Process,
    _profile: TempDir,
}

impl Browser {
    fn start() -> Self {
        let port = free_port();
        let driver = Process(
            Command::new(CHROMEDRIVER)
                .arg(format!("--port={port}"))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start chromedriver"),
        );
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(60)))
            .build()
            .into();
        let root = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let ready = agent
                .get(format!("{root}/status"))
                .call()
                .ok()
                .and_then(|mut response| response.body_mut().read_json::<Value>().ok())
                .is_some_and(|status| status["value"]["ready"] == true);
            if ready {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "chromedriver did not become ready"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        let profile = TempDir::new("chromium-profile");
        let capabilities = json!({
            "capabilities": { "alwaysMatch": {
                "browserName": "chrome",
                "goog:chromeOptions": {
                    "binary": CHROMIUM,
                    "args": [
                        "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                        "--disable-background-networking", "--disable-component-update",
                        "--disable-sync", "--disable-quic", "--window-size=480,640",
                        format!("--user-data-dir={}", profile.0.display()),
                    ],
                },
            }},
        });
        let mut response = agent
            .post(format!("{root}/session"))
            .send_json(&capabilities)
            .expect("new session");
        let created: Value = response.body_mut().read_json().expect("session json");
        let id = created["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {created}"))
            .to_owned();
        let browser = Self {
            agent,
            base: format!("{root}/session/{id}"),
            _driver: driver,
            _profile: profile,
        };
        // Element lookups return at once; `submit` does its own waiting.
        browser.post("/timeouts", json!({ "implicit": 0, "pageLoad": 30000 }));
        browser
    }

    fn post(&self, path: &str, body: Value) -> Value {
        let mut response = self
            .agent
            .post(format!("{}{path}", self.base))
            .send_json(&body)
            .expect("webdriver post");
        response
            .body_mut()
            .read_json::<Value>()
            .expect("webdriver json")["value"]
            .take()
    }

    fn get(&self, path: &str) -> Value {
        let mut response = self
            .agent
            .get(format!("{}{path}", self.base))
            .call()
            .expect("webdriver get");
        response
            .body_mut()
            .read_json::<Value>()
            .expect("webdriver json")["value"]
            .take()
    }

    /// The first element matching `css`, waiting (bounded) for it to appear.
    fn find(&self, css: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(found) = self.all(css).into_iter().next() {
                return found;
            }
            assert!(Instant::now() < deadline, "no element {css}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The references of the elements matching `css`, at this moment.
    fn all(&self, css: &str) -> Vec<String> {
        let found = self.post(
            "/elements",
            json!({ "using": "css selector", "value": css }),
        );
        found
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .filter_map(|item| item[ELEMENT].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }

    fn count(&self, css: &str) -> usize {
        self.post(
            "/elements",
            json!({ "using": "css selector", "value": css }),
        )
        .as_array()
        .map_or(0, Vec::len)
    }

    fn open(&self, url: &str) {
        self.post("/url", json!({ "url": url }));
    }

    /// Types `text` into the form, clicks Send, and returns the text of the
    /// notice the new page shows above the form.
    fn submit(&self, text: &str) -> String {
        let before = self.all("main > p");
        let input = self.find("#message");
        self.post(&format!("/element/{input}/value"), json!({ "text": text }));
        let send = self.find("input[type=submit]");
        self.post(&format!("/element/{send}/click"), json!({}));
        // Wait (bounded) for the new page: a notice element that was not on
        // the old one, whose text can be read.
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            for notice in self.all("main > p") {
                if before.contains(&notice) {
                    continue;
                }
                // Empty while the new page is still being laid out.
                match self.get(&format!("/element/{notice}/text")).as_str() {
                    Some(text) if !text.is_empty() => return text.to_owned(),
                    _ => {}
                }
            }
            assert!(
                Instant::now() < deadline,
                "no new page after submitting {text:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Whether a JavaScript dialog (as `alert` opens) is showing.
    fn alert_is_open(&self) -> bool {
        let alert = self.get("/alert/text");
        alert.is_string()
    }

    fn screenshot(&self) -> Vec<u8> {
        let encoded = self.get("/screenshot");
        base64::engine::general_purpose::STANDARD
            .decode(encoded.as_str().unwrap_or_default())
            .expect("png")
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.agent.delete(&self.base).call();
    }
}

/// A directory removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let path =
            std::env::temp_dir().join(format!("{name}-{}-{}", std::process::id(), free_port()));
        std::fs::create_dir_all(&path).unwrap();
        Self(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
#[cfg_attr(
    not(all(has_chromium, has_chromedriver)),
    ignore = "needs /usr/bin/chromium and /usr/bin/chromedriver (Debian: chromium, chromium-driver)"
)]
fn both_web_clients_work_in_a_real_browser() {
    let session_port = free_port();
    let session_addr = format!("127.0.0.1:{session_port}");
    let _session = start_example(
        "session_server",
        &["--listen", &session_addr],
        "Waiting for connections...",
    );
    let browser = Browser::start();

    for variant in ["web_client", "web_client_socket"] {
        let web_addr = format!("127.0.0.1:{}", free_port());
        let _web = start_example(
            variant,
            &["--listen", &web_addr, "--connect", &session_addr],
            "Serving the form",
        );
        browser.open(&format!("http://{web_addr}/"));

        assert_eq!(
            browser.submit("pässwörd"),
            "Server said: dröwssäp",
            "{variant}"
        );

        // The article's page would have put the reply into the HTML as it is.
        // Typed forwards, the script comes back reversed, as plain text ...
        assert_eq!(
            browser.submit("<script>alert(1)</script>"),
            "Server said: >tpircs/<)1(trela>tpircs<",
            "{variant}"
        );
        // ... and typed backwards, the server's reply *is* the script: it
        // must show as text and run nothing.
        assert_eq!(
            browser.submit(">tpircs/<)1(trela>tpircs<"),
            "Server said: <script>alert(1)</script>",
            "{variant}"
        );
        assert!(!browser.alert_is_open(), "{variant}: a script ran");
        assert_eq!(
            browser.count("script"),
            0,
            "{variant}: a script element was created"
        );
        assert_eq!(browser.count("main b"), 1, "{variant}");

        // An empty message gets the form back with a hint.
        assert_eq!(
            browser.submit(""),
            "Type some text first, then press Send.",
            "{variant}"
        );

        if variant == "web_client" {
            assert_eq!(
                browser.submit("Look Ma...all backwards"),
                "Server said: sdrawkcab lla...aM kooL"
            );
            let png = browser.screenshot();
            assert!(png.starts_with(b"\x89PNG"), "not a PNG");
            let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
            std::fs::write(dir.join("web-client.png"), &png).unwrap();
            if std::env::var_os("UPDATE_SCREENSHOT").is_some() {
                let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/web-client.png");
                std::fs::write(docs, &png).unwrap();
            }
        }
    }
}
