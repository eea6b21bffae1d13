//! The console in a real headless Chromium, driven over WebDriver
//! (Debian's `chromium-driver`), against a real `host serve`.
//!
//! The test installs Chromium with apt when `chromedriver` is missing (CI
//! runs as root on Debian). Screenshots of the main views are saved under
//! the target directory; the path is printed.

#[allow(dead_code)]
#[path = "../api/server.rs"]
mod server;

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;
use server::Server;

const HOSTILE: &str = "<img src=x onerror=alert(1)>";

/// `chromedriver`'s path, installing Debian's packages if it is missing.
fn chromedriver() -> PathBuf {
    let find = || {
        ["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"]
            .into_iter()
            .map(PathBuf::from)
            .find(|p| p.exists())
    };
    if let Some(path) = find() {
        return path;
    }
    eprintln!("chromedriver is missing: installing chromium and chromium-driver with apt-get");
    let apt = |args: &[&str]| {
        Command::new("apt-get")
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
            .is_ok_and(|s| s.success())
    };
    let installed = apt(&["update"]) && apt(&["install", "-y", "chromium", "chromium-driver"]);
    find().unwrap_or_else(|| {
        panic!(
            "the console's browser test needs Chromium and chromedriver, and installing them failed \
             (installed: {installed}); install them with `apt-get install -y chromium chromium-driver` (as root)"
        )
    })
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn browser() -> (Client, Driver) {
    let port = free_port();
    let driver = Driver(
        Command::new(chromedriver())
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts"),
    );
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({"args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                        "--window-size=1400,1000"]}),
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        match ClientBuilder::new(connector)
            .capabilities(caps.clone())
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
        {
            Ok(client) => return (client, driver),
            Err(e) if Instant::now() < deadline => {
                let _ = e;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => panic!("cannot reach chromedriver: {e}"),
        }
    }
}

fn screenshots() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("console-screenshots");
    std::fs::create_dir_all(&dir).expect("screenshot dir");
    dir
}

async fn shoot(client: &Client, name: &str) {
    let png = client.screenshot().await.expect("screenshot");
    let path = screenshots().join(format!("{name}.png"));
    std::fs::write(&path, png).expect("screenshot written");
    eprintln!("screenshot: {}", path.display());
}

/// Waits (bounded) until `check` holds, re-reading the page each time.
async fn until<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(60);
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn status_of(client: &Client, state: &str) -> Option<String> {
    let selector = format!("g.state[data-state=\"{state}\"]");
    let g = client.find(Locator::Css(&selector)).await.ok()?;
    g.attr("data-status").await.ok().flatten()
}

fn demo() -> serde_json::Value {
    json!({"StartAt": "Prepare", "States": {
        "Prepare": {"Type": "Pass", "Next": "Pause"},
        "Pause": {"Type": "Wait", "Seconds": 3, "Next": "Check"},
        "Check": {"Type": "Choice", "Choices": [
            {"Variable": "$.fail", "BooleanEquals": true, "Next": "Boom"}], "Default": "Fan"},
        "Boom": {"Type": "Fail", "Error": "Demo.Failed", "Cause": "the input asked to fail"},
        "Fan": {"Type": "Map", "ItemsPath": "$.items", "ItemProcessor": {
            "StartAt": "Each", "States": {"Each": {"Type": "Pass", "End": true}}},
            "ResultPath": "$.fanned", "Next": "Done"},
        "Done": {"Type": "Succeed"}
    }})
}

async fn create(server: &Server, name: &str, definition: serde_json::Value) {
    server
        .client()
        .create_state_machine()
        .name(name)
        .definition(definition.to_string())
        .role_arn("arn:aws:iam::000000000000:role/console")
        .send()
        .await
        .expect("state machine created");
}

async fn start_from_form(client: &Client, base: &str, machine: &str, input: &str) {
    client
        .goto(&format!("{base}/machines/{machine}"))
        .await
        .expect("machine page");
    let area = client.find(Locator::Id("input")).await.expect("input box");
    area.clear().await.expect("cleared");
    area.send_keys(input).await.expect("typed");
    client
        .find(Locator::Css("#start-form button"))
        .await
        .expect("start button")
        .click()
        .await
        .expect("clicked");
    until("the execution page", || async {
        client
            .current_url()
            .await
            .is_ok_and(|u| u.path().starts_with("/executions/"))
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_in_a_real_browser() {
    let server = Server::start(&[]);
    let base = server.endpoint();
    create(&server, "demo", demo()).await;
    create(
        &server,
        "slow",
        json!({"StartAt": "Sleep", "States": {
        "Sleep": {"Type": "Wait", "Seconds": 3600, "End": true}}}),
    )
    .await;
    create(
        &server,
        "hostile",
        json!({"StartAt": HOSTILE, "States": {
        HOSTILE: {"Type": "Pass", "Result": {"html": "<script>alert(2)</script>"}, "End": true}}}),
    )
    .await;
    let (client, _driver) = browser().await;

    // The list of state machines.
    client.goto(&base).await.expect("console opens");
    let body = client
        .find(Locator::Css("main"))
        .await
        .expect("main")
        .text()
        .await
        .expect("text");
    assert!(body.contains("demo") && body.contains("slow"), "{body}");
    shoot(&client, "machines").await;

    // The start form checks the JSON before sending.
    client
        .goto(&format!("{base}/machines/demo"))
        .await
        .expect("machine page");
    let area = client.find(Locator::Id("input")).await.expect("input box");
    area.clear().await.expect("cleared");
    area.send_keys("{not json").await.expect("typed");
    client
        .find(Locator::Css("#start-form button"))
        .await
        .expect("button")
        .click()
        .await
        .expect("click");
    let problem = client
        .find(Locator::Id("input-problem"))
        .await
        .expect("problem");
    assert!(
        problem
            .text()
            .await
            .expect("text")
            .contains("not valid JSON")
    );
    assert_eq!(
        client.current_url().await.expect("url").path(),
        "/machines/demo"
    );
    shoot(&client, "machine").await;

    // A run that succeeds: the graph turns green state by state, live.
    start_from_form(
        &client,
        &base,
        "demo",
        r#"{"fail": false, "items": [1, 2, 3]}"#,
    )
    .await;
    until("Pause running", || async {
        status_of(&client, "Pause").await.as_deref() == Some("running")
    })
    .await;
    assert_eq!(
        status_of(&client, "Prepare").await.as_deref(),
        Some("succeeded")
    );
    assert_eq!(
        status_of(&client, "Done").await.as_deref(),
        Some("not-reached")
    );
    until("Done succeeded", || async {
        status_of(&client, "Done").await.as_deref() == Some("succeeded")
    })
    .await;
    // The page reloads once the execution ends, to show its output.
    until("the SUCCEEDED badge", || async {
        client
            .find(Locator::Css(".badge.status-succeeded"))
            .await
            .is_ok()
    })
    .await;
    for state in ["Prepare", "Pause", "Check", "Fan", "Each", "Done"] {
        assert_eq!(
            status_of(&client, state).await.as_deref(),
            Some("succeeded"),
            "{state}"
        );
    }
    assert_eq!(
        status_of(&client, "Boom").await.as_deref(),
        Some("not-reached")
    );
    shoot(&client, "execution-succeeded").await;

    // A failing run: open the failed state and read its error and cause.
    start_from_form(&client, &base, "demo", r#"{"fail": true}"#).await;
    until("Boom failed", || async {
        status_of(&client, "Boom").await.as_deref() == Some("failed")
    })
    .await;
    until("the FAILED badge", || async {
        client
            .find(Locator::Css(".badge.status-failed"))
            .await
            .is_ok()
    })
    .await;
    client
        .find(Locator::Css("g.state[data-state=\"Boom\"]"))
        .await
        .expect("Boom")
        .click()
        .await
        .expect("click");
    until("the step panel", || async {
        client
            .find(Locator::Id("step-visits"))
            .await
            .expect("panel")
            .text()
            .await
            .is_ok_and(|t| t.contains("the input asked to fail"))
    })
    .await;
    let panel = client
        .find(Locator::Id("step-panel"))
        .await
        .expect("panel")
        .text()
        .await
        .expect("text");
    assert!(panel.contains("Demo.Failed"), "{panel}");
    assert!(panel.contains("the input asked to fail"), "{panel}");
    shoot(&client, "execution-failed").await;

    // Redrive it: the same execution runs again from its failed step.
    client
        .find(Locator::Id("redrive"))
        .await
        .expect("Redrive button")
        .click()
        .await
        .expect("click");
    until("the redrive count", || async {
        client
            .find(Locator::Css("main"))
            .await
            .expect("main")
            .text()
            .await
            .is_ok_and(|t| t.contains("redriven 1×"))
    })
    .await;

    // Stop a running execution.
    start_from_form(&client, &base, "slow", "{}").await;
    until("Sleep running", || async {
        status_of(&client, "Sleep").await.as_deref() == Some("running")
    })
    .await;
    client
        .find(Locator::Id("stop"))
        .await
        .expect("Stop button")
        .click()
        .await
        .expect("click");
    until("the ABORTED badge", || async {
        client
            .find(Locator::Css(".badge.status-aborted"))
            .await
            .is_ok()
    })
    .await;

    // The executions list, newest first, filtered by status.
    client
        .goto(&format!("{base}/executions?status=ABORTED"))
        .await
        .expect("list");
    let rows = client
        .find_all(Locator::Css("#executions tbody tr"))
        .await
        .expect("rows");
    assert_eq!(rows.len(), 1);
    shoot(&client, "executions").await;

    // Hostile names are text: no element is made from them, no script runs.
    client
        .goto(&format!("{base}/machines/hostile"))
        .await
        .expect("hostile page");
    assert!(
        client
            .find_all(Locator::Css("main img"))
            .await
            .expect("query")
            .is_empty()
    );
    let label = client
        .find(Locator::Css("g.state text"))
        .await
        .expect("state label")
        .text()
        .await
        .expect("text");
    assert_eq!(label, HOSTILE);
    start_from_form(&client, &base, "hostile", "{}").await;
    until("the hostile run to end", || async {
        client
            .find(Locator::Css(".badge.status-succeeded"))
            .await
            .is_ok()
    })
    .await;
    assert!(
        client
            .find_all(Locator::Css("main img, main script"))
            .await
            .expect("query")
            .is_empty()
    );
    let output = client
        .find(Locator::Id("execution-output"))
        .await
        .expect("output")
        .text()
        .await
        .expect("text");
    assert!(output.contains("<script>alert(2)</script>"), "{output}");
    assert!(client.get_alert_text().await.is_err(), "an alert opened");

    client.close().await.expect("browser closes");

    // A POST without the console's token is refused; so is a foreign Origin.
    let forged = post(
        &server,
        "/executions/x/stop",
        &[("origin", "http://evil.example")],
        "csrf=guess",
    );
    assert!(forged.starts_with("HTTP/1.1 403"), "{forged}");
}

/// One raw POST to a console path; the whole response.
fn post(server: &Server, path: &str, headers: &[(&str, &str)], body: &str) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", server.port)).expect("connects");
    let mut request = format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n",
        server.port,
        body.len()
    );
    for (k, v) in headers {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream.write_all(request.as_bytes()).expect("sent");
    let mut out = String::new();
    let _ = stream.read_to_string(&mut out);
    out
}
