//! The static tables: capabilities, the operations privmon watches, and each
//! architecture's syscall numbers.

pub mod capabilities;
pub mod operations;
pub mod syscalls;
