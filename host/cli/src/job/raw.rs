//! Raw serde structures, straight from the TOML; checked by `validate`.

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;
use serde::de::value::{MapAccessDeserializer, SeqAccessDeserializer};
use serde::de::{self, MapAccess, SeqAccess, Visitor};
use toml::Spanned;

use super::ArgValue;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawJob {
    pub(super) guest_dirs: Option<Vec<Spanned<String>>>,
    pub(super) pool: Option<RawPool>,
    pub(super) guests: Option<BTreeMap<Spanned<String>, Spanned<RawGuest>>>,
    pub(super) fetch: Option<Vec<Spanned<RawFetch>>>,
    pub(super) task: Option<Spanned<Vec<Spanned<RawTask>>>>,
    pub(super) output: Option<RawOutput>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPool {
    pub(super) workers: Option<Spanned<usize>>,
    pub(super) timeout: Option<Spanned<DurationStr>>,
    pub(super) memory: Option<Spanned<RawSize>>,
    pub(super) fuel: Option<Spanned<u64>>,
    pub(super) instance: Option<Spanned<String>>,
    pub(super) output_limit: Option<Spanned<RawSize>>,
}

pub(super) enum RawGuest {
    Path(String),
    Table(RawGuestTable),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawGuestTable {
    pub(super) path: Option<Spanned<String>>,
    pub(super) builtin: Option<Spanned<String>>,
    pub(super) python: Option<Spanned<String>>,
    pub(super) digest: Option<bool>,
    pub(super) dirs: Option<Vec<RawDir>>,
    pub(super) env: Option<BTreeMap<String, String>>,
    pub(super) args: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDir {
    pub(super) host: Spanned<String>,
    pub(super) guest: Spanned<String>,
    pub(super) write: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawFetch {
    pub(super) name: Option<Spanned<String>>,
    pub(super) urls: Option<Spanned<Vec<Spanned<String>>>>,
    pub(super) concurrency: Option<Spanned<usize>>,
    pub(super) timeout: Option<Spanned<DurationStr>>,
    pub(super) retries: Option<u32>,
    pub(super) backoff: Option<Spanned<DurationStr>>,
    pub(super) status: Option<Spanned<Vec<Spanned<i64>>>>,
    pub(super) max_body: Option<Spanned<RawSize>>,
    pub(super) headers: Option<BTreeMap<Spanned<String>, Spanned<String>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTask {
    pub(super) name: Option<String>,
    pub(super) guest: Option<Spanned<String>>,
    pub(super) call: Option<Spanned<String>>,
    pub(super) args: Option<Spanned<Vec<ArgValue>>>,
    pub(super) each: Option<Spanned<RawEach>>,
    pub(super) timeout: Option<Spanned<DurationStr>>,
    pub(super) reduce: Option<Spanned<String>>,
    pub(super) save: Option<Spanned<String>>,
    pub(super) report: Option<Spanned<RawReport>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawReport {
    pub(super) call: Spanned<String>,
    pub(super) path: Option<Spanned<String>>,
}

pub(super) enum RawEach {
    Values(Vec<ArgValue>),
    Files(Spanned<String>),
    Fetch(Spanned<String>),
    Range(Spanned<Vec<i64>>),
}

/// The keys of an `each` table; unknown keys fail while the key's span is known.
enum EachKey {
    Values,
    Files,
    Fetch,
    Range,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawOutput {
    pub(super) format: Option<Spanned<String>>,
    pub(super) path: Option<Spanned<String>>,
    pub(super) order: Option<Spanned<String>>,
}

pub(super) struct DurationStr(pub(super) String);

pub(super) enum RawSize {
    Int(i64),
    Str(String),
}

/// The visitor of the hand-written `Deserialize` impls below; holds the "expected" text.
pub(super) struct Expecting<T>(&'static str, std::marker::PhantomData<T>);

impl<T> Expecting<T> {
    fn new(what: &'static str) -> Self {
        Expecting(what, std::marker::PhantomData)
    }
}

macro_rules! expecting {
    () => {
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.0)
        }
    };
}

impl<'de> Deserialize<'de> for DurationStr {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(Expecting::<Self>::new("a duration string such as \"10s\""))
    }
}

impl Visitor<'_> for Expecting<DurationStr> {
    type Value = DurationStr;
    expecting!();
    fn visit_str<E: de::Error>(self, v: &str) -> Result<DurationStr, E> {
        Ok(DurationStr(v.to_owned()))
    }
}

impl<'de> Deserialize<'de> for RawSize {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(Expecting::<Self>::new(
            "a size such as \"256MiB\" or a number of bytes",
        ))
    }
}

impl Visitor<'_> for Expecting<RawSize> {
    type Value = RawSize;
    expecting!();
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<RawSize, E> {
        Ok(RawSize::Int(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<RawSize, E> {
        Ok(RawSize::Str(v.to_string()))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<RawSize, E> {
        Ok(RawSize::Str(v.to_owned()))
    }
}

impl<'de> Deserialize<'de> for RawGuest {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(Expecting::<Self>::new(
            "a guest path or a table with `path`",
        ))
    }
}

impl<'de> Visitor<'de> for Expecting<RawGuest> {
    type Value = RawGuest;
    expecting!();
    fn visit_str<E: de::Error>(self, v: &str) -> Result<RawGuest, E> {
        Ok(RawGuest::Path(v.to_owned()))
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawGuest, A::Error> {
        RawGuestTable::deserialize(MapAccessDeserializer::new(map)).map(RawGuest::Table)
    }
}

impl<'de> Deserialize<'de> for RawEach {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(Expecting::<Self>::new(
            "a list of values or a table with `values`, `files`, `fetch` or `range`",
        ))
    }
}

impl<'de> Visitor<'de> for Expecting<RawEach> {
    type Value = RawEach;
    expecting!();
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<RawEach, A::Error> {
        Vec::deserialize(SeqAccessDeserializer::new(seq)).map(RawEach::Values)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawEach, A::Error> {
        const ONE_OF: &str =
            "`each` table must have exactly one of `values`, `files`, `fetch`, `range`";
        let mut each = None;
        while let Some(key) = map.next_key::<EachKey>()? {
            if each.is_some() {
                return Err(de::Error::custom(ONE_OF));
            }
            each = Some(match key {
                EachKey::Values => RawEach::Values(map.next_value()?),
                EachKey::Files => RawEach::Files(map.next_value()?),
                EachKey::Fetch => RawEach::Fetch(map.next_value()?),
                EachKey::Range => RawEach::Range(map.next_value()?),
            });
        }
        each.ok_or_else(|| de::Error::custom(ONE_OF))
    }
}

impl<'de> Deserialize<'de> for EachKey {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_identifier(Expecting::<Self>::new("an `each` source"))
    }
}

impl Visitor<'_> for Expecting<EachKey> {
    type Value = EachKey;
    expecting!();
    fn visit_str<E: de::Error>(self, v: &str) -> Result<EachKey, E> {
        match v {
            "values" => Ok(EachKey::Values),
            "files" => Ok(EachKey::Files),
            "fetch" => Ok(EachKey::Fetch),
            "range" => Ok(EachKey::Range),
            _ => Err(E::custom(format!(
                "unknown `each` source `{v}`; expected one of `values`, `files`, `fetch`, `range`{}",
                crate::suggest::hint(v, ["values", "files", "fetch", "range"])
            ))),
        }
    }
}
