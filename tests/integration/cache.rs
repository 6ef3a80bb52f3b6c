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
    assert_eq!(n, wpool_tests::heavy_calc(1000));
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

#[test]
fn the_library_writes_no_cache_unless_asked() {
    let pool = Pool::builder().workers(1).build().unwrap();
    let calc = pool.load(Guest::builtin("heavy_calc")).unwrap();
    assert_eq!(calc.cache_status(), CacheStatus::Disabled);
}

/// Distinct guests (WAT modules that differ in a constant).
fn answer(n: u32) -> Guest {
    Guest::bytes(
        format!("answer{n}"),
        format!(r#"(module (func (export "answer") (result i32) i32.const {n}))"#),
    )
}

fn entries(dir: &std::path::Path) -> Vec<std::fs::DirEntry> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

#[test]
fn the_cache_stays_within_its_size_and_keeps_the_most_recently_used() {
    let dir = tempfile::tempdir().unwrap();
    let first = pool_with_cache(dir.path());
    first.load(answer(1)).unwrap();
    let one_entry = entries(dir.path())[0].metadata().unwrap().len();
    // Room for two entries and a half.
    let bounded = || {
        Pool::builder()
            .workers(1)
            .cache_dir(dir.path())
            .cache_max_size(one_entry * 5 / 2)
            .build()
            .unwrap()
    };
    let pool = bounded();
    pool.load(answer(2)).unwrap();
    // Using `answer1` again makes `answer2` the least recently used.
    std::thread::sleep(Duration::from_millis(20)); // distinct modification times
    assert_eq!(
        pool.load(answer(1)).unwrap().cache_status(),
        CacheStatus::Hit
    );
    std::thread::sleep(Duration::from_millis(20));
    pool.load(answer(3)).unwrap();
    let total: u64 = entries(dir.path())
        .iter()
        .map(|e| e.metadata().unwrap().len())
        .sum();
    assert!(total <= one_entry * 5 / 2, "{total} bytes in the cache");
    assert_eq!(entries(dir.path()).len(), 2);
    let fresh = bounded();
    assert_eq!(
        fresh.load(answer(1)).unwrap().cache_status(),
        CacheStatus::Hit
    );
    assert_eq!(
        fresh.load(answer(3)).unwrap().cache_status(),
        CacheStatus::Hit
    );
    assert_eq!(
        fresh.load(answer(2)).unwrap().cache_status(),
        CacheStatus::Miss
    );
}

#[test]
fn concurrent_writers_never_share_a_file() {
    let dir = tempfile::tempdir().unwrap();
    std::thread::scope(|s| {
        for _ in 0..8 {
            s.spawn(|| {
                let pool = pool_with_cache(dir.path());
                for n in 0..4 {
                    pool.load(answer(n)).unwrap();
                }
            });
        }
    });
    let names: Vec<String> = entries(dir.path())
        .iter()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names.len(),
        4,
        "one entry per guest, no temporary files left: {names:?}"
    );
    assert!(names.iter().all(|n| n.ends_with(".cwasm")), "{names:?}");
    let pool = pool_with_cache(dir.path());
    for n in 0..4 {
        assert_eq!(
            pool.load(answer(n)).unwrap().cache_status(),
            CacheStatus::Hit
        );
    }
}
