//! A real `host serve` process on a free loopback port, and an AWS SDK
//! client pointed at it.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use aws_sdk_sfn::Client;
use aws_sdk_sfn::config::interceptors::BeforeTransmitInterceptorContextMut;
use aws_sdk_sfn::config::{
    BehaviorVersion, ConfigBag, Credentials, Intercept, Region, RuntimeComponents,
};
use aws_sdk_sfn::error::BoxError;

pub struct Server {
    child: Child,
    pub port: u16,
    _dir: Option<tempfile::TempDir>,
}

impl Server {
    /// A server on a new database.
    pub fn start(args: &[&str]) -> Server {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = dir.path().join("executions.db");
        let mut server = Server::start_on(&db, args);
        server._dir = Some(dir);
        server
    }

    /// A server on the database at `db`.
    pub fn start_on(db: &Path, args: &[&str]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_host"))
            .args(["serve", "--listen", "127.0.0.1:0", "--db"])
            .arg(db)
            .args(args)
            .current_dir(db.parent().expect("db in a directory"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("host serve starts");
        let stderr = child.stderr.take().expect("stderr piped");
        let mut lines = BufReader::new(stderr).lines();
        let mut said = Vec::new();
        let first = loop {
            let line = lines
                .next()
                .unwrap_or_else(|| panic!("host serve ended saying {said:?}"))
                .expect("readable stderr");
            if line.contains("serving") {
                break line;
            }
            said.push(line);
        };
        let port = first
            .split("http://127.0.0.1:")
            .nth(1)
            .and_then(|rest| rest.split(' ').next())
            .and_then(|port| port.parse().ok())
            .unwrap_or_else(|| panic!("no address in {first:?}"));
        // Keep draining stderr so the server never blocks on it.
        std::thread::spawn(move || for _ in lines.by_ref() {});
        Server {
            child,
            port,
            _dir: None,
        }
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn client(&self) -> Client {
        client(&self.endpoint(), self.port)
    }

    /// SIGTERM, then the exit status.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success());
        self.child.wait().expect("server exits")
    }

    /// One raw HTTP/1.1 request; the status, headers (lowercase) and body.
    pub fn raw(&self, host: &str, headers: &[(&str, &str)], body: &[u8]) -> RawResponse {
        self.raw_method("POST", host, headers, body)
    }

    pub fn raw_method(
        &self,
        method: &str,
        host: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> RawResponse {
        self.request(method, "/", host, headers, body)
    }

    /// `GET path`.
    pub fn get(&self, path: &str) -> RawResponse {
        self.request("GET", path, "localhost", &[], b"")
    }

    fn request(
        &self,
        method: &str,
        path: &str,
        host: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> RawResponse {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).expect("connects");
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .expect("timeout");
        let mut request = format!(
            "{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nContent-Length: {}\r\n",
            body.len()
        );
        for (name, value) in headers {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        request.push_str("\r\n");
        stream.write_all(request.as_bytes()).expect("writes");
        // A refused body may close the connection before it is all sent.
        let _ = stream.write_all(body);
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer);
        let text = String::from_utf8_lossy(&answer).into_owned();
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let mut lines = head.lines();
        let status = lines
            .next()
            .and_then(|l| l.split(' ').nth(1))
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        RawResponse {
            status,
            headers,
            body: body.to_owned(),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub struct RawResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl RawResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {:?}", self.body))
    }
}

/// Sends requests whose host the SDK prefixed with `sync-` (API-04) to the
/// server's loopback address, keeping the prefixed Host header, and counts
/// them: no resolver maps `sync-localhost` on a test machine.
#[derive(Debug)]
struct SyncPrefix {
    port: u16,
    seen: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl Intercept for SyncPrefix {
    fn name(&self) -> &'static str {
        "SyncPrefix"
    }

    fn modify_before_transmit(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let request = context.request_mut();
        let uri = request.uri().to_owned();
        let authority = uri
            .split("://")
            .nth(1)
            .and_then(|rest| rest.split('/').next())
            .unwrap_or("")
            .to_owned();
        if authority.starts_with("sync-") {
            self.seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            request.headers_mut().insert("host", authority.clone());
            let direct = uri.replacen(&authority, &format!("127.0.0.1:{}", self.port), 1);
            request.set_uri(direct.as_str())?;
        }
        Ok(())
    }
}

pub static SYNC_PREFIXED: std::sync::LazyLock<std::sync::Arc<std::sync::atomic::AtomicUsize>> =
    std::sync::LazyLock::new(Default::default);

pub fn client(endpoint: &str, port: u16) -> Client {
    client_as(endpoint, port, "test", "test")
}

/// A client that signs with access key `key_id` and secret `secret`.
pub fn client_as(endpoint: &str, port: u16, key_id: &str, secret: &str) -> Client {
    let config = aws_sdk_sfn::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new(key_id, secret, None, None, "test"))
        // `localhost`, so StartSyncExecution goes to `sync-localhost` as it would for a user.
        .endpoint_url(endpoint.replace("127.0.0.1", "localhost"))
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .retry_config(aws_sdk_sfn::config::retry::RetryConfig::disabled())
        .interceptor(SyncPrefix {
            port,
            seen: SYNC_PREFIXED.clone(),
        })
        .build();
    Client::from_conf(config)
}

/// The AWS error code of an SDK failure.
pub fn code<E, R>(e: &aws_sdk_sfn::error::SdkError<E, R>) -> String
where
    E: aws_sdk_sfn::error::ProvideErrorMetadata,
{
    use aws_sdk_sfn::error::ProvideErrorMetadata as _;
    e.code().unwrap_or("(none)").to_owned()
}

pub fn message<E, R>(e: &aws_sdk_sfn::error::SdkError<E, R>) -> String
where
    E: aws_sdk_sfn::error::ProvideErrorMetadata,
{
    use aws_sdk_sfn::error::ProvideErrorMetadata as _;
    e.message().unwrap_or("").to_owned()
}

/// The shared conformance and bench data (`../shared`, or `$SANDSTEP_SHARED`).
pub fn shared_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("SANDSTEP_SHARED") {
        return PathBuf::from(dir);
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared")
}
