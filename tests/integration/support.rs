//! `spawn_app()`: a server on a random port over a fresh database, an HTTP client with its own
//! cookie jar, and (optionally) a real SMTP server that records what the app sends.
use gatehouse::server::{self, config::Config};
use reqwest::{header, Client, Response, StatusCode};
use serde_json::{json, Value};
use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};
use tempfile::TempDir;

#[derive(Clone, Copy, Debug)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs one async test body once per database backend.
#[macro_export]
macro_rules! both {
    ($name:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name($crate::support::Backend::Sqlite).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$name($crate::support::Backend::Postgres).await
            }
        }
    };
}

pub struct Options {
    pub smtp: bool,
    pub tweak: Box<dyn FnOnce(&mut Config) + Send>,
}

impl Default for Options {
    fn default() -> Self {
        Options { smtp: true, tweak: Box::new(|_| {}) }
    }
}

pub struct TestApp {
    pub base: String,
    pub running: Option<server::Running>,
    pub smtp: Option<SmtpSink>,
    pub dir: TempDir,
    postgres_db: Option<String>,
}

/// Every test request gives up after this long, so a stalled server fails the test naming the
/// request instead of holding CI until its limit.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// A plain client (no cookies) with the test timeout.
pub fn http() -> Client {
    Client::builder().timeout(REQUEST_TIMEOUT).build().unwrap()
}

pub const STRONG_PASSWORD: &str = "Tr0ub4dor&3-horse-staple";

/// Starts the app, or returns `None` (after saying why) when Postgres is unreachable outside CI.
pub async fn spawn_app(backend: Backend, options: Options) -> Option<TestApp> {
    let dir = tempfile::tempdir().expect("temp dir");
    let (database_url, postgres_db) = fresh_database(backend, dir.path()).await?;
    let smtp = options.smtp.then(|| SmtpSink::start(dir.path()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().unwrap();
    let mut config = Config::new(addr, database_url, None);
    config.data_dir = dir.path().to_path_buf();
    config.smtp_url = smtp.as_ref().map(|s| format!("smtp://127.0.0.1:{}", s.port));
    // Every test client comes from 127.0.0.1: per-IP limits are for the tests that lower them.
    config.api_ip_quota = gatehouse::server::ratelimit::Quota::per_minute(1_000_000);
    config.auth_ip_quota = gatehouse::server::ratelimit::Quota::per_minute(1_000_000);
    (options.tweak)(&mut config);
    let running = server::start(config, listener).await.expect("server starts");
    Some(TestApp { base: format!("http://{addr}"), running: Some(running), smtp, dir, postgres_db })
}

/// The file where skipped runs are listed; `make unit` prints how many there were, so a developer
/// without Postgres or Redis is told rather than skipped silently.
pub const SKIPS_FILE: &str = concat!(env!("CARGO_TARGET_TMPDIR"), "/skipped-tests.log");

pub fn record_skip(what: &str) {
    use std::io::Write;
    eprintln!("skipping {what}");
    let file = std::fs::OpenOptions::new().create(true).append(true).open(SKIPS_FILE);
    // One short line per write: appends from parallel tests do not interleave.
    if let Ok(mut file) = file {
        let _ = file.write_all(format!("{}\n", what.split(':').next().unwrap_or(what)).as_bytes());
    }
}

/// A new, empty database: a file in `dir`, or a Postgres database (with its name, to drop later).
/// `None` when Postgres is unreachable outside CI.
pub async fn fresh_database(backend: Backend, dir: &Path) -> Option<(String, Option<String>)> {
    match backend {
        Backend::Sqlite => Some((format!("sqlite://{}", dir.join("gatehouse.db").display()), None)),
        Backend::Postgres => {
            let name = format!("gatehouse_test_{}", uuid::Uuid::now_v7().simple());
            match postgres_admin(&format!("CREATE DATABASE {name}")).await {
                Ok(()) => Some((postgres_url_for(&name), Some(name))),
                Err(why) if std::env::var("CI").is_ok_and(|v| v == "true") => {
                    panic!("Postgres is required in CI but unreachable: {why}")
                }
                Err(why) => {
                    record_skip(&format!("the Postgres run: {why}"));
                    None
                }
            }
        }
    }
}

pub async fn drop_database(name: &str) {
    let _ = postgres_admin(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await;
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn postgres_admin_url() -> String {
    std::env::var("GATEHOUSE_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

fn postgres_url_for(database: &str) -> String {
    let admin = postgres_admin_url();
    let base = admin.rsplit_once('/').map(|(b, _)| b.to_owned()).unwrap_or(admin);
    format!("{base}/{database}")
}

async fn postgres_admin(sql: &str) -> Result<(), String> {
    use sqlx::Connection;
    let connect = sqlx::PgConnection::connect(&postgres_admin_url());
    let mut conn = tokio::time::timeout(Duration::from_secs(5), connect)
        .await
        .map_err(|_| "timed out connecting".to_owned())?
        .map_err(|e| e.to_string())?;
    sqlx::query(sql).execute(&mut conn).await.map_err(|e| e.to_string())?;
    Ok(())
}

impl TestApp {
    /// A browser-like client: its own cookie jar, no automatic redirects.
    pub fn client(&self) -> Client {
        Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .timeout(REQUEST_TIMEOUT)
            .build()
            .unwrap()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn post(&self, client: &Client, path: &str, body: Value) -> Response {
        client.post(self.url(path)).json(&body).send().await.expect("request")
    }

    pub async fn get(&self, client: &Client, path: &str) -> Response {
        client.get(self.url(path)).send().await.expect("request")
    }

    /// Signs up a fresh user on `client`; returns their email.
    pub async fn signup(&self, client: &Client, name: &str) -> String {
        let email = format!("{}-{}@example.com", name.to_lowercase().replace(' ', "."), uuid::Uuid::now_v7().simple());
        let res = self
            .post(client, "/api/v1/auth/signup", json!({"name": name, "email": email, "password": STRONG_PASSWORD}))
            .await;
        assert_eq!(res.status(), StatusCode::CREATED, "{}", res.text().await.unwrap());
        email
    }

    pub async fn login(&self, client: &Client, email: &str, password: &str) -> Response {
        self.post(client, "/api/v1/auth/login", json!({"email": email, "password": password})).await
    }

    /// The newest mail to `to` whose subject contains `subject`, waiting up to 10 s.
    pub async fn mail(&self, to: &str, subject: &str) -> Mail {
        self.smtp.as_ref().expect("started with smtp").wait_for(to, subject, 1).await
    }

    pub async fn stop(mut self) {
        if let Some(running) = self.running.take() {
            running.stop().await;
        }
        if let Some(db) = self.postgres_db.take() {
            drop_database(&db).await;
        }
    }
}

/// Reads an API error body and checks its shape.
pub async fn error_of(res: Response) -> (StatusCode, Value) {
    let status = res.status();
    let content_type =
        res.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let body: Value = res.json().await.expect("JSON error body");
    assert!(content_type.starts_with("application/json"), "content type {content_type}");
    assert!(body["error"]["code"].is_string() && body["error"]["message"].is_string(), "{body}");
    (status, body["error"].clone())
}

pub struct Mail {
    pub to: String,
    pub subject: String,
    pub body: String,
}

impl Mail {
    /// The first link in the body that starts with `prefix` (e.g. "http://host/verify-email?token=").
    pub fn link(&self, path_prefix: &str) -> String {
        let start = self.body.find(path_prefix).unwrap_or_else(|| panic!("no link {path_prefix} in:\n{}", self.body));
        let rest = &self.body[start..];
        let end = rest.find(|c: char| c.is_whitespace()).unwrap_or(rest.len());
        let link = &rest[..end];
        // back to the start of the URL
        let url_start = self.body[..start].rfind("http").expect("absolute link");
        format!("{}{}", &self.body[url_start..start], link)
    }

    pub fn token(&self, path: &str) -> String {
        let link = self.link(&format!("{path}?token="));
        link.split("token=").nth(1).unwrap().to_owned()
    }
}

/// A real SMTP server (Python aiosmtpd) that writes each message to a folder.
pub struct SmtpSink {
    pub port: u16,
    dir: PathBuf,
    child: Child,
}

impl SmtpSink {
    fn start(parent: &Path) -> SmtpSink {
        SmtpSink::start_on(parent, free_port())
    }

    /// Starts the sink on a given port (e.g. one the app was told about before the sink was up).
    pub fn start_on(parent: &Path, port: u16) -> SmtpSink {
        let dir = parent.join(format!("mail-{port}"));
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/smtp_sink.py");
        let mut child = Command::new("python3")
            .arg(script)
            .args(["--port", &port.to_string(), "--dir"])
            .arg(&dir)
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 with aiosmtpd (pip install aiosmtpd)");
        let mut line = String::new();
        std::io::BufRead::read_line(&mut std::io::BufReader::new(child.stdout.take().unwrap()), &mut line).unwrap();
        assert_eq!(line.trim(), "ready", "SMTP sink failed to start");
        SmtpSink { port, dir, child }
    }

    pub fn all(&self) -> Vec<Mail> {
        let mut files: Vec<_> = std::fs::read_dir(&self.dir)
            .map(|d| {
                d.filter_map(Result::ok)
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|e| e == "eml"))
                    .collect()
            })
            .unwrap_or_default();
        files.sort();
        files.iter().map(|p| parse_mail(&std::fs::read_to_string(p).unwrap())).collect()
    }

    pub async fn wait_for(&self, to: &str, subject: &str, count: usize) -> Mail {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let mut matching: Vec<Mail> =
                self.all().into_iter().filter(|m| m.to == to && m.subject.contains(subject)).collect();
            if matching.len() >= count {
                return matching.pop().unwrap();
            }
            assert!(
                Instant::now() < deadline,
                "no mail to {to} about {subject:?}; got {:?}",
                self.all().iter().map(|m| (&m.to, &m.subject)).collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn parse_mail(raw: &str) -> Mail {
    let raw = raw.replace("\r\n", "\n");
    let (head, body) = raw.split_once("\n\n").unwrap_or((&raw, ""));
    let header = |name: &str| {
        head.lines()
            .find_map(|l| l.strip_prefix(name).and_then(|v| v.strip_prefix(':')))
            .map(|v| v.trim().to_owned())
            .unwrap_or_default()
    };
    let body = if header("Content-Transfer-Encoding").eq_ignore_ascii_case("quoted-printable") {
        decode_quoted_printable(body)
    } else {
        body.to_owned()
    };
    Mail { to: header("X-Envelope-To"), subject: header("Subject"), body }
}

fn decode_quoted_printable(text: &str) -> String {
    let joined = text.replace("=\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'=', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl TestApp {
    /// Creates an organization as `owner`; returns its JSON.
    pub async fn create_org(&self, owner: &Client, name: &str) -> Value {
        let res = self.post(owner, "/api/v1/organizations", json!({"name": name})).await;
        assert_eq!(res.status(), StatusCode::CREATED, "{}", res.text().await.unwrap());
        res.json().await.unwrap()
    }

    /// Signs up a new person and brings them into `org` with `role` through an invitation.
    pub async fn add_member(&self, owner: &Client, org: &str, name: &str, role: &str) -> Member {
        let client = self.client();
        let email = self.signup(&client, name).await;
        let res = self
            .post(owner, &format!("/api/v1/organizations/{org}/invite"), json!({"email": email, "role": role}))
            .await;
        assert_eq!(res.status(), StatusCode::CREATED, "{}", res.text().await.unwrap());
        let invitation: Value = res.json().await.unwrap();
        let token = invitation["link"].as_str().unwrap().split("token=").nth(1).unwrap().to_owned();
        let res = self.post(&client, "/api/v1/invitations/accept", json!({"token": token})).await;
        assert_eq!(res.status(), StatusCode::OK, "{}", res.text().await.unwrap());
        let me: Value = self.get(&client, "/api/v1/me").await.json().await.unwrap();
        Member { client, id: me["id"].as_str().unwrap().to_owned() }
    }

    /// The database pool, for tests that must reach under the API (tampering, clocks).
    pub fn pool(&self) -> sqlx::AnyPool {
        self.running.as_ref().unwrap().state.db.pool().clone()
    }
}

pub struct Member {
    pub client: Client,
    pub id: String,
}
