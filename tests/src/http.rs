//! A real HTTP/1.1 server on `127.0.0.1` for tests that fetch URLs.
//!
//! [`TestServer`] listens on an ephemeral port and serves a fixed set of routes
//! (deterministic bytes, status codes, a request that never answers, flaky and
//! held responses, large and streamed bodies) plus any body registered with
//! [`TestServer::add`]. It counts every request per path, so tests can assert
//! on what was (or was not) fetched.

use std::collections::{HashMap, HashSet};
use std::convert::Infallible;
use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::sync::watch;

/// The chunk size of `/stream/{len}`.
const STREAM_CHUNK: usize = 64 * 1024;

/// A real HTTP/1.1 server on `127.0.0.1:PORT`, for tests.
///
/// It runs on its own thread with its own single-threaded tokio runtime, so it
/// works from sync tests and from inside another runtime alike.
///
/// Routes:
/// - `/bytes/{len}?seed=S`: 200 with [`bytes_for(S, len)`](bytes_for) (seed 0 by default).
/// - any path registered with [`add`](TestServer::add): 200 with that body
///   (takes precedence over the routes below).
/// - `/status/{code}`: that status, body `status {code}`.
/// - `/slow`: never answers (until the server shuts down).
/// - `/flaky/{key}/{fails}`: 503 for the first `fails` requests with that
///   key, then 200 with body `ok after {fails}`.
/// - `/big/{len}`: 200 with `len` bytes and a `Content-Length`.
/// - `/stream/{len}`: 200 with `len` bytes in 64 KiB chunks, chunked, without
///   a `Content-Length`.
/// - `/hold/{key}`: answers 200 with body `held {key}` once
///   [`release(key)`](TestServer::release) has been called, before or after
///   the request arrived.
/// - anything else: 404.
///
/// The bodies of `/big` and `/stream` are `bytes_for(0, len)`.
///
/// On drop the server stops listening, drops every open connection (a client
/// waiting on `/slow` or `/hold` sees the connection close) and joins its
/// thread.
#[derive(Debug)]
pub struct TestServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

/// State shared between the test and the server thread.
#[derive(Debug, Default)]
struct Shared {
    hits: Mutex<HashMap<String, usize>>,
    hit: Condvar,
    bodies: Mutex<HashMap<String, Bytes>>,
    flaky: Mutex<HashMap<String, usize>>,
    released: watch::Sender<HashSet<String>>,
    shutdown: watch::Sender<bool>,
}

impl TestServer {
    /// Binds `127.0.0.1:0` and starts serving; panics if it cannot.
    pub fn start() -> TestServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("test server: bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("test server: local address");
        listener
            .set_nonblocking(true)
            .expect("test server: set non-blocking");
        let shared = Arc::new(Shared::default());
        let app = Router::new()
            .route("/bytes/{len}", get(bytes))
            .route("/status/{code}", get(status))
            .route("/slow", get(slow))
            .route("/flaky/{key}/{fails}", get(flaky))
            .route("/big/{len}", get(big))
            .route("/stream/{len}", get(stream))
            .route("/hold/{key}", get(hold))
            .fallback(|| async { StatusCode::NOT_FOUND })
            .layer(middleware::from_fn_with_state(
                shared.clone(),
                count_and_serve_added,
            ))
            .with_state(shared.clone());
        let mut shutdown = shared.shutdown.subscribe();
        let thread = std::thread::Builder::new()
            .name(format!("test-server-{}", addr.port()))
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("test server: tokio runtime");
                runtime.block_on(async move {
                    let listener = tokio::net::TcpListener::from_std(listener)
                        .expect("test server: tokio listener");
                    tokio::select! {
                        result = axum::serve(listener, app) => result.expect("test server: serve"),
                        _ = shutdown.wait_for(|&stop| stop) => {}
                    }
                });
                // Dropping the runtime drops the connection tasks still open.
            })
            .expect("test server: spawn thread");
        TestServer {
            addr,
            shared,
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:PORT` followed by `path` (which starts with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Serves `body` with 200 at `GET path` from now on (replacing any earlier body).
    pub fn add(&self, path: &str, body: impl Into<Vec<u8>>) {
        let body = Bytes::from(body.into());
        self.shared
            .bodies
            .lock()
            .unwrap()
            .insert(path.to_owned(), body);
    }

    /// How many requests reached `path` (the path without the query).
    pub fn hits(&self, path: &str) -> usize {
        self.shared
            .hits
            .lock()
            .unwrap()
            .get(path)
            .copied()
            .unwrap_or(0)
    }

    /// Lets `/hold/{key}` answer: the requests waiting now and every later one.
    pub fn release(&self, key: &str) {
        self.shared.released.send_modify(|released| {
            released.insert(key.to_owned());
        });
    }

    /// Blocks until `path` has been requested at least once, or `timeout`
    /// passed; returns whether it was requested.
    pub fn wait_for_request(&self, path: &str, timeout: Duration) -> bool {
        let hits = self.shared.hits.lock().unwrap();
        let (hits, _) = self
            .shared
            .hit
            .wait_timeout_while(hits, timeout, |hits| !hits.contains_key(path))
            .unwrap();
        hits.contains_key(path)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.shared.shutdown.send_replace(true);
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
            && !std::thread::panicking()
        {
            panic!("test server on {} panicked", self.addr);
        }
    }
}

/// A URL on `127.0.0.1` where nothing listens: connecting to it is refused.
///
/// It binds an ephemeral port, reads it and closes the listener, so the port is
/// free (another test could in principle take it again, but the kernel does
/// not hand out a just-released ephemeral port again soon).
pub fn refused_url() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    let port = listener.local_addr().expect("local address").port();
    drop(listener);
    format!("http://127.0.0.1:{port}/refused")
}

/// The `len` deterministic bytes `/bytes/{len}?seed={seed}` serves (splitmix64
/// output, little-endian), so tests can hash them natively.
pub fn bytes_for(seed: u64, len: usize) -> Vec<u8> {
    let mut state = seed;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        out.extend_from_slice(&(z ^ (z >> 31)).to_le_bytes());
    }
    out.truncate(len);
    out
}

/// Counts the request, then answers with a body registered by `add` if there is one.
async fn count_and_serve_added(
    State(shared): State<Arc<Shared>>,
    request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path().to_owned();
    *shared.hits.lock().unwrap().entry(path.clone()).or_default() += 1;
    shared.hit.notify_all();
    let added = shared.bodies.lock().unwrap().get(&path).cloned();
    match added {
        Some(body) => body.into_response(),
        None => next.run(request).await,
    }
}

async fn bytes(Path(len): Path<usize>, Query(query): Query<HashMap<String, String>>) -> Response {
    let seed = match query.get("seed").map(|seed| seed.parse::<u64>()) {
        None => 0,
        Some(Ok(seed)) => seed,
        Some(Err(_)) => return (StatusCode::BAD_REQUEST, "`seed` must be a u64").into_response(),
    };
    bytes_for(seed, len).into_response()
}

async fn status(Path(code): Path<u16>) -> Response {
    match StatusCode::from_u16(code) {
        Ok(status) => (status, format!("status {code}")).into_response(),
        Err(_) => (StatusCode::BAD_REQUEST, format!("invalid status {code}")).into_response(),
    }
}

/// Stays pending until the server shuts down and drops it with its runtime.
async fn slow() -> StatusCode {
    std::future::pending().await
}

async fn flaky(
    State(shared): State<Arc<Shared>>,
    Path((key, fails)): Path<(String, usize)>,
) -> Response {
    let attempt = {
        let mut counts = shared.flaky.lock().unwrap();
        let count = counts.entry(key.clone()).or_default();
        *count += 1;
        *count
    };
    if attempt <= fails {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("flaky {key}: failure {attempt} of {fails}"),
        )
            .into_response()
    } else {
        format!("ok after {fails}").into_response()
    }
}

async fn big(Path(len): Path<usize>) -> Response {
    // `Vec<u8>` bodies have a known size, so hyper sends a `Content-Length`.
    bytes_for(0, len).into_response()
}

async fn stream(Path(len): Path<usize>) -> Response {
    let data = Bytes::from(bytes_for(0, len));
    let chunks = (0..len)
        .step_by(STREAM_CHUNK)
        .map(move |start| Ok::<_, Infallible>(data.slice(start..len.min(start + STREAM_CHUNK))));
    // A stream body has no known size, so hyper sends it chunked.
    let mut response = Body::from_stream(futures::stream::iter(chunks)).into_response();
    let octets = header::HeaderValue::from_static("application/octet-stream");
    response.headers_mut().insert(header::CONTENT_TYPE, octets);
    response
}

async fn hold(State(shared): State<Arc<Shared>>, Path(key): Path<String>) -> String {
    let mut released = shared.released.subscribe();
    let _ = released.wait_for(|released| released.contains(&key)).await;
    format!("held {key}")
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;

    use super::*;

    const WAIT: Duration = Duration::from_secs(10);

    fn get(url: &str) -> reqwest::blocking::Response {
        reqwest::blocking::get(url).unwrap_or_else(|e| panic!("GET {url}: {e}"))
    }

    #[test]
    fn bytes_are_deterministic_and_counted_without_query() {
        let server = TestServer::start();
        let response = get(&server.url("/bytes/1000?seed=7"));
        assert_eq!(response.status(), 200);
        assert_eq!(response.content_length(), Some(1000));
        assert_eq!(response.bytes().unwrap(), bytes_for(7, 1000));
        assert_eq!(
            get(&server.url("/bytes/1000")).bytes().unwrap(),
            bytes_for(0, 1000)
        );
        assert_eq!(server.hits("/bytes/1000"), 2);
        assert_ne!(bytes_for(1, 64), bytes_for(2, 64));
        assert_eq!(bytes_for(3, 13), bytes_for(3, 20)[..13]);
    }

    #[test]
    fn added_bodies_are_served_and_unknown_paths_are_404() {
        let server = TestServer::start();
        server.add("/a.txt", "hello");
        let response = get(&server.url("/a.txt"));
        assert_eq!(response.status(), 200);
        assert_eq!(response.text().unwrap(), "hello");
        assert_eq!(get(&server.url("/nothing")).status(), 404);
        assert_eq!(
            (
                server.hits("/a.txt"),
                server.hits("/nothing"),
                server.hits("/b")
            ),
            (1, 1, 0)
        );
    }

    #[test]
    fn status_answers_with_that_code() {
        let server = TestServer::start();
        let response = get(&server.url("/status/418"));
        assert_eq!(response.status(), 418);
        assert_eq!(response.text().unwrap(), "status 418");
        assert_eq!(get(&server.url("/status/500")).status(), 500);
    }

    #[test]
    fn slow_never_answers() {
        let server = TestServer::start();
        let client = reqwest::blocking::Client::builder()
            .timeout(Duration::from_millis(200))
            .build()
            .unwrap();
        let error = client.get(server.url("/slow")).send().unwrap_err();
        assert!(error.is_timeout(), "{error}");
        assert!(server.wait_for_request("/slow", WAIT));
    }

    #[test]
    fn flaky_fails_then_succeeds_per_key() {
        let server = TestServer::start();
        let url = server.url("/flaky/a/2");
        assert_eq!(get(&url).status(), 503);
        assert_eq!(get(&url).status(), 503);
        let response = get(&url);
        assert_eq!(response.status(), 200);
        assert_eq!(response.text().unwrap(), "ok after 2");
        assert_eq!(get(&server.url("/flaky/b/1")).status(), 503);
        assert_eq!(get(&server.url("/flaky/b/1")).status(), 200);
        assert_eq!(get(&server.url("/flaky/c/0")).status(), 200);
    }

    #[test]
    fn big_has_a_content_length() {
        let server = TestServer::start();
        let response = get(&server.url("/big/300000"));
        assert_eq!(response.status(), 200);
        assert_eq!(response.content_length(), Some(300_000));
        assert_eq!(response.bytes().unwrap(), bytes_for(0, 300_000));
    }

    #[test]
    fn stream_is_chunked_without_a_content_length() {
        let server = TestServer::start();
        let response = get(&server.url("/stream/300000"));
        assert_eq!(response.status(), 200);
        assert!(response.headers().get(header::CONTENT_LENGTH).is_none());
        assert_eq!(response.headers()[header::TRANSFER_ENCODING], "chunked");
        assert_eq!(response.bytes().unwrap(), bytes_for(0, 300_000));
    }

    #[test]
    fn hold_answers_when_released_before_the_request() {
        let server = TestServer::start();
        server.release("early");
        assert_eq!(
            get(&server.url("/hold/early")).text().unwrap(),
            "held early"
        );
    }

    #[test]
    fn hold_answers_when_released_after_the_request() {
        let server = TestServer::start();
        let url = server.url("/hold/late");
        let (sender, receiver) = mpsc::channel();
        let client = std::thread::spawn(move || sender.send(get(&url).text().unwrap()).unwrap());
        assert!(server.wait_for_request("/hold/late", WAIT));
        server.release("other");
        assert_eq!(receiver.try_recv(), Err(mpsc::TryRecvError::Empty));
        server.release("late");
        assert_eq!(receiver.recv_timeout(WAIT).unwrap(), "held late");
        client.join().unwrap();
    }

    #[test]
    fn wait_for_request_times_out() {
        let server = TestServer::start();
        assert!(!server.wait_for_request("/never", Duration::from_millis(50)));
    }

    #[test]
    fn refused_url_refuses() {
        let error = reqwest::blocking::get(refused_url()).unwrap_err();
        assert!(error.is_connect(), "{error}");
    }

    #[test]
    fn drop_closes_waiting_connections() {
        let server = TestServer::start();
        let url = server.url("/slow");
        let (sender, receiver) = mpsc::channel();
        let client =
            std::thread::spawn(move || sender.send(reqwest::blocking::get(&url).is_err()).unwrap());
        assert!(server.wait_for_request("/slow", WAIT));
        drop(server);
        assert!(
            receiver.recv_timeout(WAIT).unwrap(),
            "`/slow` answered after shutdown"
        );
        client.join().unwrap();
    }

    #[tokio::test]
    async fn works_inside_a_runtime() {
        let server = TestServer::start();
        server.add("/x", "inside");
        let body = reqwest::get(server.url("/x"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert_eq!(body, "inside");
        assert_eq!(server.hits("/x"), 1);
    }
}
