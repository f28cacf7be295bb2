//! The `privmon` command line refuses bad configuration before touching the kernel.

use std::process::Command;

fn privmon() -> Command {
    Command::new(env!("CARGO_BIN_EXE_privmon"))
}

#[test]
fn bad_config_file_is_refused_with_file_line_and_key() {
    let dir = std::env::temp_dir().join(format!("privmon-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("privmon.yaml");
    std::fs::write(&file, "hook: auto\nhok: tp_btf\n").unwrap();
    let out = privmon()
        .arg("run")
        .arg("--config")
        .arg(&file)
        .output()
        .unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let expected = format!("{}:2: key `hok`: unknown field `hok`", file.display());
    assert!(stderr.contains(&expected), "{stderr}");
}

#[test]
fn missing_config_file_is_refused() {
    let out = privmon()
        .args(["run", "--config", "/nonexistent/privmon.yaml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("/nonexistent/privmon.yaml: cannot read"),
        "{stderr}"
    );
}

#[test]
fn bad_flag_value_is_refused_with_the_flag() {
    let out = privmon()
        .args(["run", "--ring-buffer-bytes", "5000"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("key `--ring-buffer-bytes`"), "{stderr}");
    assert!(stderr.contains("power of two"), "{stderr}");
}

#[test]
fn unknown_hook_flag_is_refused() {
    let out = privmon().args(["run", "--hook", "magic"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("magic"));
}

#[test]
fn a_taken_listen_port_fails_the_start_before_the_probes_load() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = privmon().args(["run", "--listen", &addr]).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("listening on {addr} (config key `listen`)")),
        "{stderr}"
    );
    assert!(!stderr.contains("privmon ready"), "{stderr}");
}

#[test]
fn a_listen_address_without_a_port_is_refused() {
    let out = privmon()
        .args(["run", "--listen", "localhost"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--listen"), "{stderr}");
}
