//! The parts of the `wpool` command line that other tools may reuse: the job
//! file format ([`job`]) and the checks that need the guests loaded
//! ([`plan`]).

#![deny(missing_docs)]

pub mod job;
pub mod plan;
mod suggest;
