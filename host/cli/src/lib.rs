//! The parts of the `wpool` command line that other tools may reuse: the job
//! file format ([`job`]).

#![deny(missing_docs)]

pub mod job;
