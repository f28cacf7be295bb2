//! Who did it: cgroup ids to paths, containers and pods (from the runtime's files and
//! CRI), processes and their ancestry from /proc.

pub mod cgroup;
pub mod containers;
pub mod cri;
pub mod processes;
pub mod procfs;
