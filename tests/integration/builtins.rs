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
    assert_eq!(names, ["heavy_calc", "sha256"]);
}

#[test]
fn unknown_builtin_lists_the_choices() {
    let pool = pool(1, Duration::from_secs(1));
    let err = pool.load(Guest::builtin("sha265")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "unknown built-in guest `sha265`; expected one of `heavy_calc`, `sha256`"
    );
}
