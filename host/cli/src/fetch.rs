//! HTTP fetch sources: bounded concurrency, per-request timeout, retries with
//! exponential backoff (or the server's `Retry-After` on 429 and 503, up to
//! [`MAX_RETRY_AFTER`]), accepted status codes and a body-size cap. Each body
//! is handed on the moment it arrives. Every error names its URL.

use std::time::{Duration, Instant};

use futures::StreamExt;
use tokio::sync::mpsc;

use crate::job::FetchSpec;

/// The longest `Retry-After` honoured; a server asking for more gets this.
pub(crate) const MAX_RETRY_AFTER: Duration = Duration::from_secs(30);

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
            Err(Attempt::Retry(message, asked)) => {
                tracing::info!(url, attempt, "fetch failed: {message}");
                last_error = message;
                if attempt < attempts {
                    tokio::time::sleep(asked.unwrap_or(delay)).await;
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
    /// Worth another try, after the delay the server asked for, if it did.
    Retry(String, Option<Duration>),
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
        .map_err(|e| Attempt::Retry(describe(&e, url, spec), None))?;
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
            let asked = match status.as_u16() {
                429 | 503 => retry_after(response.headers()),
                _ => None,
            };
            Attempt::Retry(message, asked)
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
        .map_err(|e| Attempt::Retry(describe(&e, url, spec), None))?
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

/// The delay a `Retry-After` header asks for (seconds, or an HTTP date),
/// at most [`MAX_RETRY_AFTER`].
fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let value = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    let delay = match value.parse::<u64>() {
        Ok(secs) => Duration::from_secs(secs),
        Err(_) => {
            let at = httpdate::parse_http_date(value).ok()?;
            at.duration_since(std::time::SystemTime::now())
                .unwrap_or(Duration::ZERO)
        }
    };
    Some(delay.min(MAX_RETRY_AFTER))
}

/// A client error as a message naming the URL asked for (the error's own
/// URL is missing for errors raised while the body streams).
fn describe(e: &reqwest::Error, url: &str, spec: &FetchSpec) -> String {
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

#[cfg(test)]
mod tests {
    use reqwest::header::{HeaderMap, HeaderValue, RETRY_AFTER};

    use super::*;

    fn retry_after_of(value: &str) -> Option<Duration> {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, HeaderValue::from_str(value).unwrap());
        retry_after(&headers)
    }

    #[test]
    fn retry_after_is_read_and_bounded() {
        assert_eq!(retry_after_of("2"), Some(Duration::from_secs(2)));
        assert_eq!(retry_after_of(" 0 "), Some(Duration::ZERO));
        assert_eq!(retry_after_of("86400"), Some(MAX_RETRY_AFTER));
        assert_eq!(
            retry_after_of("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        let later =
            httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(3600));
        assert_eq!(retry_after_of(&later), Some(MAX_RETRY_AFTER));
        assert_eq!(retry_after_of("soon"), None);
        assert_eq!(retry_after(&HeaderMap::new()), None);
    }
}
