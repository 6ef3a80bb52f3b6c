//! Before anything is published: the checks `--nats` adds to a job's
//! (no host folders, no Python scripts), the guests' bytes and the limits every task carries.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{Context, Result};
use wpool_cluster::{Cluster, ConnectConfig, GuestRef, Limits};

use crate::job::{GuestSource, Job, JobError};
use crate::plan::Plan;

/// Refuses guests granted host folders: a worker on another machine cannot
/// see them.
pub(crate) fn check(job: &Job, plan: &Plan) -> Result<(), JobError> {
    for task in &plan.tasks {
        if let Some(declared) = job.guests.get(&task.spec.guest)
            && let GuestSource::PythonScript { .. } = declared.source
        {
            let message = format!(
                "guest `{}` is a Python script, which `--nats` does not run yet: workers run \
                 `.wasm` guests only (run this job without `--nats`, or build the script into a \
                 component with componentize-py)",
                task.spec.guest
            );
            return Err(JobError::at_location(&job.path, declared.span, message));
        }
        if let Some(declared) = job.guests.get(&task.spec.guest)
            && !declared.dirs.is_empty()
        {
            let message = format!(
                "guest `{}` is granted host folders (`dirs`), which workers on other machines \
                 cannot see: `--nats` runs only guests without `dirs` (run this job without \
                 `--nats`, or pass the files as inputs)",
                task.spec.guest
            );
            return Err(JobError::at_location(&job.path, declared.span, message));
        }
    }
    Ok(())
}

/// A guest's bytes, as the job names it.
fn guest_bytes(job: &Job, name: &str) -> Result<(Vec<u8>, GuestRef)> {
    let (bytes, env, args, digest) = match job.guests.get(name) {
        Some(declared) => {
            let bytes = match &declared.source {
                GuestSource::File(path) => std::fs::read(path)
                    .with_context(|| format!("cannot read guest `{}`", path.display()))?,
                GuestSource::Builtin(builtin) => builtin_bytes(builtin)?,
                GuestSource::PythonScript { script, .. } => anyhow::bail!(
                    "guest `{name}` is a Python script (`{}`): refused by `check`",
                    script.display()
                ),
            };
            (
                bytes,
                declared.env.clone(),
                declared.args.clone(),
                declared.digest,
            )
        }
        None => (builtin_bytes(name)?, Vec::new(), Vec::new(), false),
    };
    let guest = GuestRef {
        name: name.to_owned(),
        sha256: wpool_cluster::sha256_hex(&bytes),
        env,
        args,
        digest,
    };
    Ok((bytes, guest))
}

fn builtin_bytes(name: &str) -> Result<Vec<u8>> {
    wpool_builtins::get(name)
        .map(|builtin| builtin.bytes.to_vec())
        .with_context(|| format!("no built-in guest `{name}`"))
}

/// The job's limits, as every task carries them.
pub(crate) fn limits(job: &Job) -> Limits {
    let pool = &job.pool;
    Limits {
        timeout_ms: pool.timeout.map(millis),
        memory: pool.memory,
        fuel: pool.fuel,
        output_limit: pool.output_limit,
        fresh: pool.instance == wpool::InstanceMode::Fresh,
    }
}

pub(crate) fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Connects, failing within `timeout`.
pub(crate) async fn connect(url: &str, timeout: Duration) -> Result<Cluster> {
    let config = ConnectConfig {
        url: url.to_owned(),
        timeout: Some(timeout),
        name: format!("wpool run (pid {})", std::process::id()),
    };
    Ok(Cluster::connect(&config).await?)
}

/// Uploads every guest the job's tasks use (each once, and only if the
/// object store does not have it yet). Returns them by the job's guest name.
pub(crate) async fn upload_guests(
    cluster: &Cluster,
    job: &Job,
    plan: &Plan,
) -> Result<BTreeMap<String, GuestRef>> {
    let mut guests = BTreeMap::new();
    for task in &plan.tasks {
        let name = &task.spec.guest;
        if guests.contains_key(name) {
            continue;
        }
        let (bytes, guest) = guest_bytes(job, name)?;
        let (_, uploaded) = cluster
            .upload_guest(&bytes)
            .await
            .with_context(|| format!("cannot upload guest `{name}`"))?;
        tracing::info!(guest = %name, sha256 = %guest.sha256, uploaded, "guest in the object store");
        guests.insert(name.clone(), guest);
    }
    Ok(guests)
}
