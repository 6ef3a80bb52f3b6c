//! End-to-end tests of `wpool worker`, `wpool run --nats` and `wpool
//! cluster status` against a real `nats-server -js` on loopback.

mod distribute; // two workers share the seed job and a 500-task job; the guest is uploaded once
mod failures; // hostile guests are final; kill -9 redelivers; SIGTERM drains
mod harness; // a nats-server and worker processes, killed on drop
mod presence; // no worker: message and --timeout; a worker before the server; a late worker
mod refuse;
mod results; // the library's result stream loses nothing when a read is cut off // bad jobs, dir grants and an absent server: exit 2, nothing published
