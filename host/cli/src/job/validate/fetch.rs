//! `[[fetch]]` tables: names, URLs, headers, limits; URLs and headers are
//! checked here with the HTTP client's own types, so a bad one is reported
//! at its line and column before anything runs.

use reqwest::Url;
use reqwest::header::{HeaderName, HeaderValue};
use toml::Spanned;

use super::Cx;
use crate::job::raw::RawFetch;
use crate::job::{FetchSpec, JobError};

const DEFAULT_FETCH_CONCURRENCY: usize = 16;
const DEFAULT_FETCH_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);
const DEFAULT_FETCH_RETRIES: u32 = 2;
const DEFAULT_FETCH_BACKOFF: std::time::Duration = std::time::Duration::from_millis(100);
const DEFAULT_FETCH_MAX_BODY: u64 = 64 << 20;

impl Cx<'_> {
    pub(in crate::job) fn fetches(
        &self,
        raw: Vec<Spanned<RawFetch>>,
    ) -> Result<Vec<FetchSpec>, JobError> {
        let mut fetches: Vec<FetchSpec> = Vec::new();
        for fetch in raw {
            let range = fetch.span();
            let f = fetch.into_inner();
            let missing = |key| {
                self.err(
                    range.clone(),
                    format!("fetch is missing required key `{key}`"),
                )
            };
            let name = f.name.ok_or_else(|| missing("name"))?;
            if let Some(first) = fetches.iter().find(|other| other.name == *name.get_ref()) {
                let msg = format!(
                    "duplicate fetch name `{}`; first defined at line {}",
                    name.get_ref(),
                    first.span.line
                );
                return Err(self.err(name.span(), msg));
            }
            let name = self.not_empty("name", name)?;
            let urls = f.urls.ok_or_else(|| missing("urls"))?;
            if urls.get_ref().is_empty() {
                return Err(self.err(urls.span(), "`urls` must not be empty"));
            }
            let urls = (urls.into_inner().into_iter())
                .map(|url| self.url(url))
                .collect::<Result<_, _>>()?;
            let status = match f.status {
                Some(s) if s.get_ref().is_empty() => {
                    return Err(self.err(s.span(), "`status` must list at least one status code"));
                }
                Some(s) => Some(
                    (s.into_inner().into_iter())
                        .map(|code| match u16::try_from(*code.get_ref()) {
                            Ok(c) if (100..=599).contains(&c) => Ok(c),
                            _ => Err(self.err(
                                code.span(),
                                format!("status code {} is not in 100..=599", code.get_ref()),
                            )),
                        })
                        .collect::<Result<_, _>>()?,
                ),
                None => None,
            };
            fetches.push(FetchSpec {
                name,
                urls,
                concurrency: self
                    .at_least_one("concurrency", f.concurrency)?
                    .unwrap_or(DEFAULT_FETCH_CONCURRENCY),
                timeout: self.duration(f.timeout)?.unwrap_or(DEFAULT_FETCH_TIMEOUT),
                retries: f.retries.unwrap_or(DEFAULT_FETCH_RETRIES),
                backoff: self.duration(f.backoff)?.unwrap_or(DEFAULT_FETCH_BACKOFF),
                status,
                max_body: self.size(f.max_body)?.unwrap_or(DEFAULT_FETCH_MAX_BODY),
                headers: (f.headers.unwrap_or_default().into_iter())
                    .map(|(name, value)| self.header(name, value))
                    .collect::<Result<_, _>>()?,
                span: self.loc(range),
            });
        }
        Ok(fetches)
    }

    /// An `http://` or `https://` URL with a host, as `url::Url` parses it.
    fn url(&self, url: Spanned<String>) -> Result<String, JobError> {
        let u = url.get_ref();
        let msg = match Url::parse(u) {
            Ok(parsed) if !matches!(parsed.scheme(), "http" | "https") => {
                format!("url `{u}` must start with `http://` or `https://`")
            }
            Ok(parsed) if parsed.host_str().is_none_or(str::is_empty) => {
                format!("url `{u}` has no host")
            }
            Ok(_) => return Ok(url.into_inner()),
            Err(url::ParseError::EmptyHost) => format!("url `{u}` has no host"),
            Err(url::ParseError::RelativeUrlWithoutBase) => {
                format!("url `{u}` must start with `http://` or `https://`")
            }
            Err(e) => format!("invalid url `{u}`: {e}"),
        };
        Err(self.err(url.span(), msg))
    }

    /// A request header whose name and value HTTP accepts.
    fn header(
        &self,
        name: Spanned<String>,
        value: Spanned<String>,
    ) -> Result<(String, String), JobError> {
        if let Err(e) = HeaderName::from_bytes(name.get_ref().as_bytes()) {
            let msg = format!("invalid header name `{}`: {e}", name.get_ref());
            return Err(self.err(name.span(), msg));
        }
        if let Err(e) = HeaderValue::from_str(value.get_ref()) {
            let msg = format!(
                "invalid value for header `{}`: {e} (control characters and line breaks are not allowed)",
                name.get_ref()
            );
            return Err(self.err(value.span(), msg));
        }
        Ok((name.into_inner(), value.into_inner()))
    }
}
