//! A real headless Chromium, driven over W3C WebDriver by a `chromedriver` on a free port: just
//! the commands the console tests need, over ureq. `Drop` ends the session and kills the driver.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use base64::Engine;
use serde_json::{Value, json};

use crate::{free_port, temp_dir, wait_for};

/// The key W3C WebDriver uses for element references.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// Chromium's flags for a quiet, reproducible headless run.
const ARGS: [&str; 8] = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-quic",
    "--disable-sync",
];

/// True when `chromedriver` and `chromium` are installed (Debian `chromium-driver`, `chromium`).
pub fn available() -> bool {
    chromedriver().is_some() && chromium().is_some()
}

fn which(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    names.iter().find_map(|n| {
        std::env::split_paths(&path)
            .map(|d| d.join(n))
            .find(|p| p.is_file())
    })
}

fn chromedriver() -> Option<PathBuf> {
    which(&["chromedriver"])
}

fn chromium() -> Option<PathBuf> {
    which(&["chromium", "chromium-browser", "google-chrome"])
}

/// An element found on the page.
#[derive(Debug, Clone)]
pub struct Element(String);

/// One browser session.
#[derive(Debug)]
pub struct Browser {
    agent: ureq::Agent,
    base: String,
    session: Option<String>,
    child: Option<Child>,
    dir: Option<tempfile::TempDir>,
    log: PathBuf,
}

impl Browser {
    /// Starts chromedriver and a fresh Chromium (its own user-data dir) whose `Accept-Language`
    /// is `lang`, with a `width` × `height` window.
    pub fn start(lang: &str, width: u32, height: u32) -> Result<Browser> {
        let driver = chromedriver()
            .context("chromedriver is not installed (apt-get install chromium-driver)")?;
        let binary = chromium().context("chromium is not installed (apt-get install chromium)")?;
        let dir = temp_dir("linli-chromium-")?;
        let log = dir.path().join("chromedriver.log");
        let port = free_port()?;
        let child = Command::new(driver)
            .arg(format!("--port={port}"))
            .arg(format!("--log-path={}", log.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(File::create(dir.path().join("chromedriver.err"))?)
            .spawn()
            .context("spawn chromedriver")?;
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .proxy(None)
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(60)))
            .build()
            .into();
        let mut browser = Browser {
            agent,
            base: format!("http://127.0.0.1:{port}"),
            session: None,
            child: Some(child),
            log,
            dir: None,
        };
        wait_for(Duration::from_secs(20), "chromedriver to be ready", || {
            let status = browser.call("GET", "/status", None).ok()?;
            status["ready"].as_bool().filter(|r| *r)
        })?;
        let profile = dir.path().join("profile");
        let mut args: Vec<String> = ARGS.iter().map(|a| a.to_string()).collect();
        args.push(format!("--user-data-dir={}", profile.display()));
        args.push(format!("--window-size={width},{height}"));
        args.push(format!("--lang={lang}"));
        args.push(format!("--accept-lang={lang}"));
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": binary,
                "args": args,
                "prefs": {"intl.accept_languages": lang},
            },
        }}});
        browser.dir = Some(dir);
        let created = browser.call("POST", "/session", Some(caps))?;
        let id = created["sessionId"]
            .as_str()
            .with_context(|| format!("no session id in {created}"))?;
        browser.session = Some(id.to_string());
        Ok(browser)
    }

    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value> {
        let url = format!("{}{path}", self.base);
        let response = match (method, body) {
            ("GET", _) => self.agent.get(&url).call(),
            ("DELETE", _) => self.agent.delete(&url).call(),
            (_, body) => self.agent.post(&url).send_json(body.unwrap_or(json!({}))),
        };
        let mut response = response.with_context(|| format!("{method} {url}"))?;
        let status = response.status().as_u16();
        let text = response
            .body_mut()
            .with_config()
            .limit(64 * 1024 * 1024)
            .read_to_string()?;
        let v: Value =
            serde_json::from_str(&text).with_context(|| format!("{method} {path}: {text}"))?;
        if status != 200 {
            bail!("{method} {path}: HTTP {status}: {}", v["value"]);
        }
        Ok(v.get("value").cloned().unwrap_or(v))
    }

    fn session(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value> {
        let id = self.session.as_deref().context("no browser session")?;
        self.call(method, &format!("/session/{id}{path}"), body)
    }

    /// Opens `url`.
    pub fn goto(&self, url: &str) -> Result<()> {
        self.session("POST", "/url", Some(json!({"url": url})))?;
        Ok(())
    }

    /// The current URL.
    pub fn url(&self) -> Result<String> {
        Ok(self
            .session("GET", "/url", None)?
            .as_str()
            .unwrap_or_default()
            .to_string())
    }

    /// The first element matching a CSS selector.
    pub fn find(&self, css: &str) -> Result<Element> {
        let v = self.session(
            "POST",
            "/element",
            Some(json!({"using": "css selector", "value": css})),
        )?;
        v[ELEMENT]
            .as_str()
            .map(|id| Element(id.to_string()))
            .with_context(|| format!("no element `{css}`"))
    }

    /// Every element matching a CSS selector.
    pub fn find_all(&self, css: &str) -> Result<Vec<Element>> {
        let v = self.session(
            "POST",
            "/elements",
            Some(json!({"using": "css selector", "value": css})),
        )?;
        Ok(v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|e| e[ELEMENT].as_str())
                    .map(|id| Element(id.to_string()))
                    .collect()
            })
            .unwrap_or_default())
    }

    /// Waits until an element matches, at most `deadline`.
    pub fn wait_find(&self, css: &str, deadline: Duration) -> Result<Element> {
        wait_for(deadline, &format!("element `{css}`"), || {
            self.find(css).ok()
        })
    }

    /// Clicks an element.
    pub fn click(&self, e: &Element) -> Result<()> {
        self.session("POST", &format!("/element/{}/click", e.0), Some(json!({})))?;
        Ok(())
    }

    /// Types into an element.
    pub fn type_text(&self, e: &Element, text: &str) -> Result<()> {
        self.session(
            "POST",
            &format!("/element/{}/value", e.0),
            Some(json!({"text": text})),
        )?;
        Ok(())
    }

    /// The rendered text of an element.
    pub fn text(&self, e: &Element) -> Result<String> {
        Ok(self
            .session("GET", &format!("/element/{}/text", e.0), None)?
            .as_str()
            .unwrap_or_default()
            .to_string())
    }

    /// The rendered text of every element matching a CSS selector, read in one script so
    /// a live page re-rendering between two WebDriver calls cannot leave a stale element.
    pub fn texts(&self, css: &str) -> Result<Vec<String>> {
        let v = self.session(
            "POST",
            "/execute/sync",
            Some(json!({
                "script": "return Array.from(document.querySelectorAll(arguments[0]), e => e.innerText);",
                "args": [css],
            })),
        )?;
        Ok(v.as_array()
            .map(|a| {
                a.iter()
                    .map(|t| t.as_str().unwrap_or_default().to_string())
                    .collect()
            })
            .unwrap_or_default())
    }

    /// Runs a script (`return ...;`) in the page and returns its result.
    pub fn script(&self, script: &str) -> Result<Value> {
        self.session(
            "POST",
            "/execute/sync",
            Some(json!({"script": script, "args": []})),
        )
    }

    /// Runs an async script: it gets a callback as its last argument (`arguments[0]`).
    pub fn script_async(&self, script: &str) -> Result<Value> {
        self.session(
            "POST",
            "/execute/async",
            Some(json!({"script": script, "args": []})),
        )
    }

    /// Emulates a phone screen of `width` × `height` CSS pixels (mobile viewport rules).
    pub fn phone(&self, width: u32, height: u32) -> Result<()> {
        self.session(
            "POST",
            "/goog/cdp/execute",
            Some(
                json!({"cmd": "Emulation.setDeviceMetricsOverride", "params": {
                    "width": width, "height": height, "deviceScaleFactor": 2, "mobile": true,
                }}),
            ),
        )?;
        Ok(())
    }

    /// Saves a PNG of the viewport to `path`.
    pub fn screenshot(&self, path: &Path) -> Result<()> {
        let b64 = self.session("GET", "/screenshot", None)?;
        let png = base64::engine::general_purpose::STANDARD
            .decode(b64.as_str().unwrap_or_default())
            .context("decode the screenshot")?;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(path, png).with_context(|| format!("write {}", path.display()))
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if self.session.is_some() {
            let _ = self.session("DELETE", "", None);
            self.session = None;
        }
        crate::reap(
            &mut self.child,
            &mut self.dir,
            "chromedriver",
            &self.log.clone(),
            30,
        );
    }
}
