use crate::harness::{Nats, free_port, job, run_nats};

/// Whether the server holds any task, result or guest.
fn published_anything(nats: &Nats) -> bool {
    nats.inspect(async |js| {
        for name in ["WPOOL_TASKS", "WPOOL_RESULTS", "OBJ_wpool-guests"] {
            if let Ok(mut stream) = js.get_stream(name).await
                && stream.info().await.expect("stream info").state.messages > 0
            {
                return true;
            }
        }
        false
    })
}

/// A job-file error and a guest granted host folders: exit 2 with the
/// file's line and column, and nothing on the server.
#[test]
fn bad_jobs_exit_2_before_publishing() {
    let nats = Nats::start();
    let dir = tempfile::tempdir().unwrap();
    let typo = job(
        dir.path(),
        "typo.toml",
        "[[task]]\nguest = \"heavy_calc\"\ncall = \"heavy-cal\"\neach = [1, 2]\n",
    );
    run_nats(&nats.url, &typo, &[])
        .status(2)
        .stderr_contains("typo.toml:3:")
        .stderr_contains("heavy-calc");
    std::fs::create_dir(dir.path().join("data")).unwrap();
    let hostile = wpool_tests::guest_path("hostile");
    let dirs = job(
        dir.path(),
        "dirs.toml",
        &format!(
            "[guests]\nreader = {{ path = \"{}\", dirs = [{{ host = \"data\", guest = \"/data\" }}] }}\n\n\
             [[task]]\nguest = \"reader\"\ncall = \"ok\"\nargs = [1]\n",
            hostile.display()
        ),
    );
    run_nats(&nats.url, &dirs, &[])
        .status(2)
        .stderr_contains("dirs.toml:2:")
        .stderr_contains("host folders");
    assert!(!published_anything(&nats));
}

/// No server at the URL: exit 2 and a message naming it.
#[test]
fn an_absent_server_is_a_usage_error() {
    let url = format!("nats://127.0.0.1:{}", free_port());
    let dir = tempfile::tempdir().unwrap();
    let ok = job(
        dir.path(),
        "ok.toml",
        "[[task]]\nguest = \"heavy_calc\"\ncall = \"heavy-calc\"\neach = [1]\n",
    );
    run_nats(&url, &ok, &[])
        .status(2)
        .stderr_contains(&format!("cannot connect to NATS at `{url}`"));
    crate::harness::wpool()
        .args(["cluster", "status", "--nats", &url])
        .run()
        .status(2)
        .stderr_contains(&url);
}
