//! The parts of the `wpool` command line that other tools may reuse: the job
//! file format ([`job`]), the checks that need the guests loaded
//! ([`plan`]) and Python script guests ([`script`]).

#![deny(missing_docs)]

pub mod job;
pub mod plan;
pub mod script;
mod suggest;
