//! HTTP fetch sources: bounded concurrency, per-request timeout, retries with
//! exponential backoff, accepted status codes and a body-size cap. Each body
//! is handed on the moment it arrives.

use std::time::{Duration, Instant};

use futures::StreamExt;
use tokio::sync::mpsc;

use crate::job::FetchSpec;

/// One fetched URL.
#[derive(Debug)]
pub(crate) struct Fetched {
    /// Position of the URL in the fetch's `urls`.
    pub(crate) position: usize,
    pub(crate) url: String,
    pub(crate) body: Result<Vec<u8>, String>,
    /// Time spent fetching, retries included.
    pub(crate) elapsed: Duration,
}

/// The HTTP client every fetch shares.
pub(crate) fn client() -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .user_agent(concat!("wpool/", env!("CARGO_PKG_VERSION")))
        .redirect(reqwest::redirect::Policy::limited(5))
        .build()
}

/// Fetches every URL of `spec`, at most `spec.concurrency` at a time, sending
/// each result to every consumer as soon as it is complete.
pub(crate) async fn run(
    client: reqwest::Client,
    spec: FetchSpec,
    consumers: Vec<mpsc::Sender<Fetched>>,
) {
    let spec = std::sync::Arc::new(spec);
    let concurrency = spec.concurrency;
    let urls = spec.urls.clone();
    let mut fetches = futures::stream::iter(urls.into_iter().enumerate())
        .map(move |(position, url)| {
            let (client, spec) = (client.clone(), spec.clone());
            async move {
                let started = Instant::now();
                let body = fetch_one(&client, &spec, &url).await;
                Fetched {
                    position,
                    url,
                    body,
                    elapsed: started.elapsed(),
                }
            }
        })
        .buffer_unordered(concurrency);
    while let Some(fetched) = fetches.next().await {
        tracing::debug!(url = %fetched.url, ok = fetched.body.is_ok(), "fetched");
        let Some((last, rest)) = consumers.split_last() else {
            continue;
        };
        for consumer in rest {
            let copy = Fetched {
                position: fetched.position,
                url: fetched.url.clone(),
                body: fetched.body.clone(),
                elapsed: fetched.elapsed,
            };
            let _ = consumer.send(copy).await;
        }
        let _ = last.send(fetched).await;
    }
}

/// Fetches one URL, retrying network errors, timeouts, 408, 429 and 5xx.
async fn fetch_one(
    client: &reqwest::Client,
    spec: &FetchSpec,
    url: &str,
) -> Result<Vec<u8>, String> {
    let attempts = spec.retries + 1;
    let mut delay = spec.backoff;
    let mut last_error = String::new();
    for attempt in 1..=attempts {
        match attempt_once(client, spec, url).await {
            Ok(body) => return Ok(body),
            Err(Attempt::Final(message)) => return Err(message),
            Err(Attempt::Retry(message)) => {
                tracing::info!(url, attempt, "fetch failed: {message}");
                last_error = message;
                if attempt < attempts {
                    tokio::time::sleep(delay).await;
                    delay = delay.saturating_mul(2);
                }
            }
        }
    }
    Err(if attempts > 1 {
        format!("{last_error} (after {attempts} attempts)")
    } else {
        last_error
    })
}

enum Attempt {
    Retry(String),
    Final(String),
}

async fn attempt_once(
    client: &reqwest::Client,
    spec: &FetchSpec,
    url: &str,
) -> Result<Vec<u8>, Attempt> {
    let mut request = client.get(url).timeout(spec.timeout);
    for (name, value) in &spec.headers {
        request = request.header(name, value);
    }
    let mut response = request
        .send()
        .await
        .map_err(|e| Attempt::Retry(describe(&e, spec)))?;
    let status = response.status();
    let accepted = match &spec.status {
        Some(codes) => codes.contains(&status.as_u16()),
        None => status.is_success(),
    };
    if !accepted {
        let message = format!("GET {url}: status {status}");
        let retryable =
            status.is_server_error() || status.as_u16() == 408 || status.as_u16() == 429;
        return Err(if retryable {
            Attempt::Retry(message)
        } else {
            Attempt::Final(message)
        });
    }
    let too_big = |len: u64| {
        Attempt::Final(format!(
            "GET {url}: body of {len} bytes exceeds the limit of {} bytes",
            spec.max_body
        ))
    };
    if let Some(len) = response.content_length()
        && len > spec.max_body
    {
        return Err(too_big(len));
    }
    let mut body =
        Vec::with_capacity(response.content_length().unwrap_or(0).min(spec.max_body) as usize);
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| Attempt::Retry(describe(&e, spec)))?
    {
        if (body.len() + chunk.len()) as u64 > spec.max_body {
            return Err(Attempt::Final(format!(
                "GET {url}: body exceeds the limit of {} bytes",
                spec.max_body
            )));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

fn describe(e: &reqwest::Error, spec: &FetchSpec) -> String {
    let url = e.url().map(|u| u.as_str().to_owned()).unwrap_or_default();
    if e.is_timeout() {
        format!("GET {url}: timed out after {:?}", spec.timeout)
    } else if e.is_connect() {
        let mut cause: &dyn std::error::Error = e;
        while let Some(next) = cause.source() {
            cause = next;
        }
        format!("GET {url}: cannot connect: {cause}")
    } else {
        format!("GET {url}: {e}")
    }
}
