//! tracefs: mounting it when absent, and reading a tracepoint's record layout.

use std::{
    ffi::CString,
    path::{Path, PathBuf},
};

use anyhow::{Context as _, bail};

const MOUNTS: [&str; 2] = ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"];

/// The directory where tracefs is mounted, mounting it at `/sys/kernel/tracing` if needed.
pub fn root() -> anyhow::Result<PathBuf> {
    if let Some(found) = MOUNTS
        .iter()
        .map(Path::new)
        .find(|p| p.join("events").is_dir())
    {
        return Ok(found.to_path_buf());
    }
    let target = Path::new(MOUNTS[0]);
    let c = |s: &str| CString::new(s).expect("no NUL in constant");
    let (src, dst, fstype) = (c("tracefs"), c(MOUNTS[0]), c("tracefs"));
    // SAFETY: valid NUL-terminated strings; no data argument.
    let rc = unsafe {
        libc::mount(
            src.as_ptr(),
            dst.as_ptr(),
            fstype.as_ptr(),
            0,
            std::ptr::null(),
        )
    };
    if rc != 0 {
        let err = std::io::Error::last_os_error();
        bail!(
            "tracefs is not mounted and mounting it at {} failed: {err}",
            target.display()
        );
    }
    tracing::info!(path = %target.display(), "mounted tracefs");
    Ok(target.to_path_buf())
}

/// Field offsets of one tracepoint's record, from its `format` file.
#[derive(Debug, PartialEq, Eq)]
pub struct EventFormat {
    /// `category:name`, for error messages (empty when parsed from bare text).
    event: String,
    fields: Vec<(String, u32, u32)>,
}

impl EventFormat {
    /// Parses the text of `events/<category>/<name>/format`.
    pub fn parse(text: &str) -> EventFormat {
        let mut fields = Vec::new();
        for line in text.lines() {
            let mut name = None;
            let mut offset = None;
            let mut size = None;
            for part in line.trim().split(';') {
                let part = part.trim();
                if let Some(decl) = part.strip_prefix("field:") {
                    // "const struct cred * cred" or "char comm[16]": the last word, minus [..].
                    name = decl
                        .split_whitespace()
                        .last()
                        .map(|w| w.split('[').next().unwrap_or(w).trim_start_matches('*'))
                        .map(str::to_string);
                } else if let Some(v) = part.strip_prefix("offset:") {
                    offset = v.parse().ok();
                } else if let Some(v) = part.strip_prefix("size:") {
                    size = v.parse().ok();
                }
            }
            if let (Some(n), Some(o), Some(s)) = (name, offset, size) {
                fields.push((n, o, s));
            }
        }
        EventFormat {
            event: String::new(),
            fields,
        }
    }

    /// Byte offset of field `name` in the record.
    pub fn offset_of(&self, name: &str) -> Option<u32> {
        self.fields.iter().find(|f| f.0 == name).map(|f| f.1)
    }

    /// Byte offset of field `name`, or an error naming the tracepoint and the field.
    pub fn require(&self, name: &str) -> anyhow::Result<u32> {
        self.offset_of(name)
            .with_context(|| format!("tracepoint {} has no field `{name}`", self.event))
    }
}

/// Reads the format of tracepoint `category:name`.
pub fn event_format(category: &str, name: &str) -> anyhow::Result<EventFormat> {
    let path = root()?
        .join("events")
        .join(category)
        .join(name)
        .join("format");
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "reading {} (kernel without the {category}:{name} tracepoint?)",
            path.display()
        )
    })?;
    let mut format = EventFormat::parse(&text);
    format.event = format!("{category}:{name}");
    Ok(format)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The format file of capability:cap_capable on Linux 6.18.
    const CAP_CAPABLE: &str = "name: cap_capable
ID: 1234
format:
\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;
\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;
\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;
\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;

\tfield:const struct cred * cred;\toffset:8;\tsize:8;\tsigned:0;
\tfield:struct user_namespace * target_ns;\toffset:16;\tsize:8;\tsigned:0;
\tfield:const struct user_namespace * capable_ns;\toffset:24;\tsize:8;\tsigned:0;
\tfield:int cap;\toffset:32;\tsize:4;\tsigned:1;
\tfield:int ret;\toffset:36;\tsize:4;\tsigned:1;
\tfield:char comm[16];\toffset:40;\tsize:16;\tsigned:0;

print fmt: \"cred %p\"
";

    #[test]
    fn parses_field_offsets() {
        let f = EventFormat::parse(CAP_CAPABLE);
        assert_eq!(f.offset_of("common_type"), Some(0));
        assert_eq!(f.offset_of("cred"), Some(8));
        assert_eq!(f.offset_of("target_ns"), Some(16));
        assert_eq!(f.offset_of("cap"), Some(32));
        assert_eq!(f.offset_of("ret"), Some(36));
        assert_eq!(f.offset_of("comm"), Some(40));
        assert_eq!(f.offset_of("opts"), None);
    }

    #[test]
    fn garbage_yields_no_fields() {
        assert_eq!(
            EventFormat::parse("field:;offset:x;\n\0\0"),
            EventFormat {
                event: String::new(),
                fields: vec![]
            }
        );
    }
}
