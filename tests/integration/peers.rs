//! Test peers: real servers the app talks to (a DNS server, an OpenID Provider, an OpenLDAP
//! directory), each a child process on loopback that prints one JSON line when it is ready and
//! stops when its stdin closes (on drop; it is killed if it lingers).
use reqwest::{header, Client, Response, StatusCode, Url};
use serde_json::{json, Value};
use std::{
    io::{BufRead, BufReader, Read},
    path::{Path, PathBuf},
    process::{Child, ChildStdin, Command, Stdio},
    sync::{mpsc, Arc, Mutex},
    time::{Duration, Instant},
};

/// How long a peer may take to print its ready line.
const READY_TIMEOUT: Duration = Duration::from_secs(20);
/// How long a peer may take to stop once its stdin is closed, before it is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(5);
/// The tail of a peer's stderr that is kept for the panic message when it fails to start.
const STDERR_KEPT: usize = 8 * 1024;

/// A running peer process and the JSON line it printed when ready.
pub struct Peer {
    child: Child,
    /// Held open: the peer stops when it closes (on drop, or when this test process dies), which
    /// lets it clean up after itself (start_slapd.py stops its slapd; a kill would orphan it).
    stdin: Option<ChildStdin>,
    pub ready: Value,
}

impl Peer {
    /// Starts `program args` in `cwd` and waits up to 20 s for its ready line. Its stderr is kept
    /// (not shown) and only printed in the panic when the line never comes.
    pub fn start(program: &str, args: &[&str], cwd: &Path) -> Peer {
        let mut child = Command::new(program)
            .args(args)
            .current_dir(cwd)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {program} (`make test-peers` installs the test peers): {e}"));
        let stdin = child.stdin.take().unwrap();
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let mut err_pipe = child.stderr.take().unwrap();
        let kept = stderr.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n @ 1..) = err_pipe.read(&mut buf) {
                let mut kept = kept.lock().unwrap();
                kept.extend_from_slice(&buf[..n]);
                let excess = kept.len().saturating_sub(STDERR_KEPT);
                kept.drain(..excess);
            }
        });
        // One thread reads the ready line, then drains stdout so that the peer never blocks on it.
        let (tx, rx) = mpsc::channel();
        let out = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            let mut out = BufReader::new(out);
            let mut line = String::new();
            let _ = out.read_line(&mut line);
            let _ = tx.send(line);
            let _ = std::io::copy(&mut out, &mut std::io::sink());
        });
        let line = rx.recv_timeout(READY_TIMEOUT).unwrap_or_default();
        let mut peer = Peer { child, stdin: Some(stdin), ready: Value::Null };
        match serde_json::from_str(&line) {
            Ok(ready) => {
                peer.ready = ready;
                peer
            }
            Err(_) => {
                drop(peer);
                std::thread::sleep(Duration::from_millis(200)); // the last of its stderr
                panic!(
                    "{program} {args:?} printed no JSON ready line within {READY_TIMEOUT:?} (got {line:?}); its stderr:\n{}",
                    String::from_utf8_lossy(&stderr.lock().unwrap())
                )
            }
        }
    }

    /// A string field of the ready line.
    pub fn field(&self, name: &str) -> String {
        self.ready[name].as_str().unwrap_or_else(|| panic!("no {name} in {}", self.ready)).to_owned()
    }
}

impl Drop for Peer {
    /// Closes stdin and waits for the peer to stop by itself; kills it only if it does not.
    fn drop(&mut self) {
        drop(self.stdin.take());
        let deadline = Instant::now() + STOP_TIMEOUT;
        while Instant::now() < deadline {
            if !matches!(self.child.try_wait(), Ok(None)) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// tests/support/`name`, where each peer's files are.
pub fn support_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support").join(name)
}

/// The OpenID Provider of tests/support/oidc (npm `oidc-provider`); see its README.
pub struct OidcProvider {
    _peer: Peer,
    pub issuer: String,
    pub control: String,
}

impl OidcProvider {
    pub fn start() -> OidcProvider {
        let peer = Peer::start("node", &["provider.mjs", "--port", "0"], &support_dir("oidc"));
        OidcProvider { issuer: peer.field("issuer"), control: peer.field("control"), _peer: peer }
    }

    /// Registers (or replaces) a confidential client allowed to redirect to `redirect_uri`.
    pub async fn register_client(&self, client_id: &str, client_secret: &str, redirect_uri: &str) {
        let body = json!({"client_id": client_id, "client_secret": client_secret, "redirect_uris": [redirect_uri]});
        let res = crate::support::http().post(format!("{}/clients", self.control)).json(&body).send().await.unwrap();
        assert_eq!(res.status(), reqwest::StatusCode::CREATED, "{}", res.text().await.unwrap());
    }

    /// Rewrites the next id_token issued to `client_id` once with these claim overrides (README).
    pub async fn next_id_token(&self, client_id: &str, overrides: Value) {
        let url = format!("{}/next-id-token?client_id={client_id}", self.control);
        let res = crate::support::http().post(url).json(&overrides).send().await.unwrap();
        assert!(res.status().is_success(), "{}", res.text().await.unwrap());
    }
}

/// A throwaway OpenLDAP directory (tests/support/ldap); see its README for the entries.
pub struct Slapd {
    _peer: Peer,
    pub url: String,
    pub base_dn: String,
    pub bind_dn: String,
    pub bind_password: String,
}

impl Slapd {
    pub fn start() -> Slapd {
        let peer = Peer::start("python3", &["start_slapd.py"], &support_dir("ldap"));
        Slapd {
            url: peer.field("url"),
            base_dn: peer.field("base_dn"),
            bind_dn: peer.field("bind_dn"),
            bind_password: peer.field("bind_password"),
            _peer: peer,
        }
    }
}

/// The SAML IdP of tests/support/saml (samlify); see its README for the flags and users.
pub struct SamlIdp {
    _peer: Peer,
    pub base: String,
    pub metadata: String,
}

impl SamlIdp {
    pub fn start() -> SamlIdp {
        let peer = Peer::start("node", &["idp.mjs", "--port", "0"], &support_dir("saml"));
        SamlIdp { base: peer.field("base"), metadata: peer.field("metadata"), _peer: peer }
    }

    /// Registers our service provider: its entity id and ACS URL.
    pub async fn register_sp(&self, entity_id: &str, acs_url: &str) {
        let body = json!({ "entity_id": entity_id, "acs_url": acs_url });
        let res = crate::support::http().post(format!("{}/control/sp", self.base)).json(&body).send().await.unwrap();
        assert!(res.status().is_success(), "{}", res.text().await.unwrap());
    }

    /// One-shot flags for the next response (README: unsigned, audience, expired, ...).
    pub async fn next_response(&self, flags: Value) {
        let res = crate::support::http()
            .post(format!("{}/control/next-response", self.base))
            .json(&flags)
            .send()
            .await
            .unwrap();
        assert!(res.status().is_success(), "{}", res.text().await.unwrap());
    }

    /// The SAMLResponse (and RelayState) the IdP's response page would post for `url`.
    pub async fn response_from(&self, url: &str) -> (String, Option<String>) {
        let page = crate::support::http().get(url).send().await.unwrap();
        assert!(page.status().is_success(), "{}", page.status());
        let html = page.text().await.unwrap();
        let field = |name: &str| {
            let marker = format!("name=\"{name}\" value=\"");
            html.split_once(&marker).map(|(_, rest)| rest.split('"').next().unwrap().replace("&amp;", "&"))
        };
        (field("SAMLResponse").unwrap_or_else(|| panic!("no SAMLResponse in {html}")), field("RelayState"))
    }
}

/// A `Location` header, resolved against the request's URL.
pub fn location(res: &Response) -> String {
    let raw = res.headers().get(header::LOCATION).expect("a Location header").to_str().unwrap();
    res.url().join(raw).unwrap().to_string()
}

/// Walks the provider's pages the way a browser would (login form, then consent) as `login`,
/// starting at `authorize_url`; returns where the provider finally sends the browser: the app's
/// callback with `code`, `state` and `iss`. `provider` must have its own cookie jar: reqwest's
/// jar ignores ports, and the app and the provider are both on 127.0.0.1.
pub async fn oidc_login(provider: &Client, authorize_url: &str, login: &str) -> String {
    let origin = Url::parse(authorize_url).unwrap().origin();
    let mut res = provider.get(authorize_url).send().await.unwrap();
    for _ in 0..10 {
        if res.status().is_redirection() {
            let next = location(&res);
            if Url::parse(&next).unwrap().origin() != origin {
                return next;
            }
            res = provider.get(next).send().await.unwrap();
            continue;
        }
        let (status, page_url) = (res.status(), res.url().clone());
        let page = res.text().await.unwrap();
        assert_eq!(status, StatusCode::OK, "{page_url}: {page}");
        let fields: &[(&str, &str)] = if page.contains(r#"name="login""#) {
            &[("prompt", "login"), ("login", login), ("password", "any password")]
        } else {
            assert!(page.contains(r#"value="consent""#), "neither a login nor a consent page: {page}");
            &[("prompt", "consent")]
        };
        res = provider.post(page_url).form(fields).send().await.unwrap();
    }
    panic!("the provider did not send the browser back within 10 steps")
}
