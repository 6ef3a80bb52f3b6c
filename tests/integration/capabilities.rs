//! The host's `digest` capability: off by default, answered natively when
//! granted, the same digests either way.

use std::time::Duration;

use sha2::{Digest, Sha256};
use wpool::{ErrorKind, Grants, Guest, Value};
use wpool_tests::{guest_path, pool};

fn payload(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

#[tokio::test]
async fn granted_or_not_the_digests_are_sha256() {
    let pool = pool(2, Duration::from_secs(20));
    let plain = pool.load(Guest::builtin("sha256")).unwrap();
    let host = pool
        .load(
            Guest::builtin("sha256")
                .named("sha256_host")
                .grants(Grants::new().digest(true)),
        )
        .unwrap();
    assert!(host.granted().has_digest());
    for len in [0, 1, 55, 56, 63, 64, 65, 1000, 64 << 10, 1 << 20] {
        let data = payload(len);
        let want = Sha256::digest(&data).to_vec();
        for guest in [&plain, &host] {
            let out = pool.submit(guest, "digest", data.clone()).await.unwrap();
            assert_eq!(
                out.value.as_bytes().unwrap(),
                want,
                "{} len {len}",
                guest.name()
            );
        }
    }
}

/// Fuel counts the guest's own instructions: hashing 4 MiB in the guest
/// needs far more than the budget, while the granted guest hands the work to
/// the host and stays within it. This is what shows the grant is used.
#[tokio::test]
async fn granted_hashing_happens_in_the_host() {
    let pool = wpool_tests::builder(1).fuel(5_000_000).build().unwrap();
    let data = payload(4 << 20);
    let plain = pool.load(Guest::builtin("sha256")).unwrap();
    let err = pool.submit(&plain, "hex", data.clone()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::OutOfFuel, "{err}");

    let host = pool
        .load(Guest::builtin("sha256").grants(Grants::new().digest(true)))
        .unwrap();
    let out = pool.submit(&host, "hex", data.clone()).await.unwrap();
    let want: String = Sha256::digest(&data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(out.value, Value::from(want));
}

#[tokio::test]
async fn calling_an_ungranted_capability_traps() {
    // An output limit below the guest's own memory (a Rust guest starts
    // with over 1 MiB): the refusal must still read as one, not as an
    // oversized result.
    let pool = wpool_tests::builder(1)
        .timeout(Duration::from_secs(10))
        .output_limit(1 << 20)
        .build()
        .unwrap();
    let hostile = pool.load(Guest::file(guest_path("hostile"))).unwrap();
    let err = pool
        .submit(&hostile, "host-sha256", b"abc".to_vec())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Trap, "{err}");
    assert!(
        err.to_string().contains("without the `digest` grant"),
        "{err}"
    );
    // The same guest, granted: the host answers.
    let granted = pool
        .load(Guest::file(guest_path("hostile")).grants(Grants::new().digest(true)))
        .unwrap();
    let out = pool
        .submit(&granted, "host-sha256", b"abc".to_vec())
        .await
        .unwrap();
    assert_eq!(
        out.value.as_bytes().unwrap(),
        Sha256::digest(b"abc").as_slice()
    );
}

#[tokio::test]
async fn inspect_lists_the_capability_as_provided() {
    let pool = pool(1, Duration::from_secs(10));
    let report = pool.inspect(Guest::builtin("sha256")).unwrap();
    let digest = report
        .imports
        .iter()
        .find(|i| i.name == "wpool:host/digest@0.1.0")
        .expect("sha256 imports the digest capability");
    assert!(digest.provided);
    assert!(report.problem.is_none());
}
