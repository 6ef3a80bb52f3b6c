use std::time::Duration;

use futures::StreamExt;
use sha2::{Digest, Sha256};
use wpool::{Guest, Value};
use wpool_tests::pool;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heavy_calc_matches_the_seed() {
    let pool = pool(2, Duration::from_secs(120));
    let calc = pool.load(Guest::builtin("heavy_calc")).unwrap();
    let inputs = [50_000_000u64, 60_000_000, 70_000_000, 80_000_000];
    let results: Vec<u64> = pool
        .map(&calc, "heavy-calc", inputs)
        .map(|r| r.unwrap().value.as_u64().unwrap())
        .collect()
        .await;
    assert_eq!(results, [99_999_998, 119_999_999, 140_000_000, 159_999_999]);
}

#[tokio::test]
async fn heavy_calc_small_inputs() {
    let pool = pool(1, Duration::from_secs(10));
    let calc = pool.load(Guest::builtin("heavy_calc")).unwrap();
    // Sum over i in 0..n of (i*i) % 7, by hand for tiny n.
    let expected = |n: u64| (0..n).map(|i| (i * i) % 7).sum::<u64>();
    for n in [0u64, 1, 2, 7, 100, 12345] {
        let got: u64 = pool.call(&calc, "heavy-calc", (n,)).await.unwrap();
        assert_eq!(got, expected(n), "n = {n}");
    }
}

#[tokio::test]
async fn sha256_fips_vectors() {
    let pool = pool(1, Duration::from_secs(10));
    let sha = pool.load(Guest::builtin("sha256")).unwrap();
    let empty = pool.submit(&sha, "hex", "").await.unwrap();
    assert_eq!(
        empty.value,
        Value::from("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    );
    let abc = pool.submit(&sha, "hex", "abc").await.unwrap();
    assert_eq!(
        abc.value,
        Value::from("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    );
    let digest = pool.submit(&sha, "digest", b"abc".to_vec()).await.unwrap();
    assert_eq!(
        digest.value.as_bytes().unwrap(),
        Sha256::digest(b"abc").as_slice()
    );
    assert_eq!(
        digest.value.to_json(),
        format!(
            "\"{}\"",
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        )
    );
}

#[tokio::test]
async fn sha256_of_ten_mib_matches_native() {
    let pool = pool(1, Duration::from_secs(60));
    let sha = pool.load(Guest::builtin("sha256")).unwrap();
    let data: Vec<u8> = (0..10u32 << 20)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let native = Sha256::digest(&data);
    let dynamic = pool.submit(&sha, "digest", data.clone()).await.unwrap();
    assert_eq!(dynamic.value.as_bytes().unwrap(), native.as_slice());
    let typed: Vec<u8> = pool.call(&sha, "digest", (data,)).await.unwrap();
    assert_eq!(typed, native.as_slice());
}

#[test]
fn builtins_are_listed() {
    let names: Vec<&str> = Guest::builtins().collect();
    assert_eq!(
        names,
        [
            "crypto",
            "etl",
            "heavy_calc",
            "image",
            "logs",
            "scrape",
            "sha256",
            "wordfreq"
        ]
    );
}

#[test]
fn unknown_builtin_lists_the_choices() {
    let pool = pool(1, Duration::from_secs(1));
    let err = pool.load(Guest::builtin("sha265")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "unknown built-in guest `sha265`; expected one of `crypto`, `etl`, `heavy_calc`, \
         `image`, `logs`, `scrape`, `sha256`, `wordfreq`"
    );
}

/// The crypto guest's pairs undo each other, and a sealed message that was
/// altered, or opened with another key, fails with kind `guest`.
#[tokio::test]
async fn crypto_round_trips_and_refuses_tampering() {
    let pool = pool(2, Duration::from_secs(30));
    let crypto = pool.load(Guest::builtin("crypto")).unwrap();
    let data = wpool_tests::http::bytes_for(3, 300_000);
    let call = |func: &'static str, args: Vec<Value>| {
        let pool = pool.clone();
        let crypto = crypto.clone();
        async move { pool.submit(&crypto, func, args).await }
    };
    let gz = call("gzip", vec![Value::from(data.clone()), Value::from(6u8)])
        .await
        .unwrap();
    let back = call("gunzip", vec![gz.value]).await.unwrap();
    assert_eq!(back.value.as_bytes().unwrap(), data);
    let lz = call("lz4", vec![Value::from(data.clone())]).await.unwrap();
    let back = call("unlz4", vec![lz.value]).await.unwrap();
    assert_eq!(back.value.as_bytes().unwrap(), data);

    let key = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
    let other = "ff0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
    let sealed = call("seal", vec![Value::from(data.clone()), Value::from(key)])
        .await
        .unwrap()
        .value;
    let again = call("seal", vec![Value::from(data.clone()), Value::from(key)])
        .await
        .unwrap()
        .value;
    assert_ne!(sealed, again, "a fresh nonce every time");
    let opened = call("unseal", vec![sealed.clone(), Value::from(key)])
        .await
        .unwrap();
    assert_eq!(opened.value.as_bytes().unwrap(), data);
    let wrong = call("unseal", vec![sealed.clone(), Value::from(other)])
        .await
        .unwrap_err();
    assert_eq!(wrong.kind(), wpool::ErrorKind::Guest, "{wrong}");
    let mut altered = sealed.as_bytes().unwrap().to_vec();
    altered[40] ^= 1;
    let err = call("unseal", vec![Value::from(altered), Value::from(key)])
        .await
        .unwrap_err();
    assert!(err.to_string().contains("authentication failed"), "{err}");
    let bad_key = call("seal", vec![Value::from(data), Value::from("abc")])
        .await
        .unwrap_err();
    assert!(bad_key.to_string().contains("64 hex digits"), "{bad_key}");
    let garbage = call("gunzip", vec![Value::from(b"not gzip".to_vec())])
        .await
        .unwrap_err();
    assert_eq!(garbage.kind(), wpool::ErrorKind::Guest);

    let sha = call("sha256", vec![Value::from("abc")]).await.unwrap();
    assert_eq!(
        sha.value,
        Value::from("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    );
    let blake = call("blake3", vec![Value::from("")]).await.unwrap();
    assert_eq!(
        blake.value,
        Value::from("af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262")
    );
}

/// Bytes shared with the caller (`Value::SharedBytes`) are taken wherever
/// bytes are: the typed byte calls (sha256 through `map`; crypto's `seal`
/// with its `string` key given as shared bytes), the dynamic path (`logs`'
/// `parse`, whose result is a record), and they give what owned bytes give.
/// Once the tasks are done the caller's buffer is its own again: every
/// worker dropped its reference.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shared_bytes_are_taken_wherever_bytes_are() {
    let pool = pool(2, Duration::from_secs(30));
    let sha = pool.load(Guest::builtin("sha256")).unwrap();
    let data = wpool::Bytes::from(wpool_tests::http::bytes_for(5, 100_000));
    let expected: String = Sha256::digest(&data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let hexes: Vec<Value> = pool
        .map(&sha, "hex", std::iter::repeat_n(data.clone(), 50))
        .map(|r| r.unwrap().value)
        .collect()
        .await;
    assert_eq!(hexes.len(), 50);
    assert!(
        hexes.iter().all(|h| h.as_str() == Some(&*expected)),
        "{hexes:?}"
    );

    let crypto = pool.load(Guest::builtin("crypto")).unwrap();
    let key = wpool::Bytes::from_static(
        b"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
    );
    let seal = vec![Value::from(data.clone()), Value::from(key.clone())];
    let sealed = pool.submit(&crypto, "seal", seal).await.unwrap().value;
    let sealed = wpool::Bytes::from(sealed.as_bytes().unwrap().to_vec());
    let unseal = vec![Value::from(sealed), Value::from(key)];
    let opened = pool.submit(&crypto, "unseal", unseal).await.unwrap();
    assert_eq!(opened.value, Value::SharedBytes(data.clone()));
    let not_text = vec![
        Value::from(data.clone()),
        Value::from(wpool::Bytes::from_static(&[0xff, 0xfe])),
    ];
    let err = pool.submit(&crypto, "seal", not_text).await.unwrap_err();
    assert_eq!(err.kind(), wpool::ErrorKind::InvalidCall, "{err}");

    let logs = pool.load(Guest::builtin("logs")).unwrap();
    let log: &'static [u8] = include_bytes!("../../examples/data/logs/web-1.log");
    let owned = pool.submit(&logs, "parse", log).await.unwrap().value;
    let shared = wpool::Bytes::from_static(log);
    let from_shared = pool.submit(&logs, "parse", shared).await.unwrap().value;
    assert!(owned.get("requests").is_some(), "{owned:?}");
    assert_eq!(from_shared, owned);

    assert!(data.is_unique(), "a worker still holds the caller's buffer");
}
