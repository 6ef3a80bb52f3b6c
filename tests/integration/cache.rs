use std::time::Duration;

use wpool::{CacheStatus, Guest, Pool};

fn pool_with_cache(dir: &std::path::Path) -> Pool {
    Pool::builder()
        .workers(1)
        .timeout(Duration::from_secs(10))
        .cache_dir(dir)
        .build()
        .unwrap()
}

#[tokio::test]
async fn second_pool_hits_the_cache() {
    let dir = tempfile::tempdir().unwrap();
    let first = pool_with_cache(dir.path());
    let calc = first.load(Guest::builtin("heavy_calc")).unwrap();
    assert_eq!(calc.cache_status(), CacheStatus::Miss);
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        1,
        "one entry written"
    );

    let second = pool_with_cache(dir.path());
    let calc = second.load(Guest::builtin("heavy_calc")).unwrap();
    assert_eq!(calc.cache_status(), CacheStatus::Hit);
    // The cached code runs.
    let n: u64 = second.call(&calc, "heavy-calc", (1000u64,)).await.unwrap();
    assert_eq!(n, (0..1000u64).map(|i| i * i % 7).sum::<u64>());
}

#[tokio::test]
async fn corrupt_entry_is_recompiled() {
    let dir = tempfile::tempdir().unwrap();
    pool_with_cache(dir.path())
        .load(Guest::builtin("sha256"))
        .unwrap();
    let entry = std::fs::read_dir(dir.path())
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let mut bytes = std::fs::read(&entry).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&entry, bytes).unwrap();

    let pool = pool_with_cache(dir.path());
    let sha = pool.load(Guest::builtin("sha256")).unwrap();
    assert_eq!(
        sha.cache_status(),
        CacheStatus::Miss,
        "a corrupt entry is not trusted"
    );
    let hex: String = pool.call(&sha, "hex", (b"abc".to_vec(),)).await.unwrap();
    assert!(hex.starts_with("ba7816bf"));
}

#[test]
fn disabled_cache_says_so() {
    let pool = Pool::builder().workers(1).no_cache().build().unwrap();
    let calc = pool.load(Guest::builtin("heavy_calc")).unwrap();
    assert_eq!(calc.cache_status(), CacheStatus::Disabled);
}
